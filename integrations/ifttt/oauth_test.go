package ifttt_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/integrations/ifttt"
	"github.com/hookline/hookline/web"
)

// signIn follows the real forms: authorize → sign in → consent, and
// returns the consent redirect's query.
func signIn(t *testing.T, c *client, email, password, decision string) url.Values {
	t.Helper()
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "state": {"st-123"}, "scope": {"ifttt"}}
	page := c.do("GET", "/oauth/authorize?"+q.Encode(), nil).Want(200)
	form := hidden(t, page.Body)
	form.Set("email", email)
	form.Set("password", password)
	consent := c.do("POST", "/oauth/signin", form).Want(200)
	if !strings.Contains(string(consent.Body), "Allow IFTTT") {
		t.Fatalf("no consent page: %s", consent.Body)
	}
	form = hidden(t, consent.Body)
	form.Set("decision", decision)
	r := c.do("POST", "/oauth/consent", form).Want(302)
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != redirectURI {
		t.Fatalf("redirect to %q", r.Header.Get("Location"))
	}
	if loc.Query().Get("state") != "st-123" {
		t.Fatalf("state lost: %v", loc)
	}
	return loc.Query()
}

func token(c *client, form url.Values, headers ...string) *resp {
	return c.do("POST", "/oauth/token", form, headers...)
}

func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	api, clk := newAPI(t, "")
	ctx := context.Background()
	created, err := api.Server.Accounts.CreateAccount(ctx, accounts.NewAccount{Name: "Studio", Email: "owner-oauth@example.com", Password: "password123"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, api)

	// A foreign client or redirect URI is refused on the page, not redirected to.
	for _, q := range []url.Values{
		{"client_id": {"evil"}, "response_type": {"code"}, "redirect_uri": {redirectURI}},
		{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {"https://evil.example/cb"}},
		{"client_id": {clientID}, "response_type": {"token"}, "redirect_uri": {redirectURI}},
	} {
		r := c.do("GET", "/oauth/authorize?"+q.Encode(), nil).Want(400)
		if r.Header.Get("Location") != "" || !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("refusal for %v: %v", q, r.Header)
		}
	}

	// A wrong password shows the form again; a form without its cookie is refused.
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "state": {"s"}}
	form := hidden(t, c.do("GET", "/oauth/authorize?"+q.Encode(), nil).Want(200).Body)
	form.Set("email", "owner-oauth@example.com")
	form.Set("password", "wrong-password")
	if r := c.do("POST", "/oauth/signin", form).Want(401); !strings.Contains(string(r.Body), "Wrong email or password") {
		t.Fatalf("wrong password page: %s", r.Body)
	}
	stranger := newClient(t, api) // no CSRF cookie
	form.Set("password", "password123")
	stranger.do("POST", "/oauth/signin", form).Want(400)

	// Denying redirects with access_denied.
	if got := signIn(t, c, "owner-oauth@example.com", "password123", "deny"); got.Get("error") != "access_denied" || got.Get("code") != "" {
		t.Fatalf("deny: %v", got)
	}

	code := signIn(t, c, "Owner-OAuth@example.com", "password123", "approve").Get("code")
	if code == "" {
		t.Fatal("no code")
	}

	// Token endpoint errors per RFC 6749.
	grant := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	r := token(c, grant, "Authorization", "Basic "+basic(clientID, "wrong"))
	r.Want(401)
	if r.Map()["error"] != "invalid_client" || r.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("invalid client: %s %v", r.Body, r.Header)
	}
	if r := token(c, url.Values{"grant_type": {"password"}}, "Authorization", "Basic "+basic(clientID, clientSecret)).Want(400); r.Map()["error"] != "unsupported_grant_type" {
		t.Fatalf("unsupported grant: %s", r.Body)
	}
	bad := url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {redirectURI}, "client_id": {clientID}, "client_secret": {clientSecret}}
	if r := token(c, bad).Want(400); r.Map()["error"] != "invalid_grant" {
		t.Fatalf("bad code: %s", r.Body)
	}

	// The code works once.
	tok := token(c, grant, "Authorization", "Basic "+basic(clientID, clientSecret)).Want(200).Map()
	access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
	if access == "" || refresh == "" || tok["token_type"] != "Bearer" {
		t.Fatalf("tokens %v", tok)
	}
	if r := token(c, grant, "Authorization", "Basic "+basic(clientID, clientSecret)).Want(400); r.Map()["error"] != "invalid_grant" {
		t.Fatalf("code reused: %s", r.Body)
	}
	info := c.ifttt("GET", "/user/info", access, nil).Want(200).Data().(map[string]any)
	if info["id"] != created.Owner.ID {
		t.Fatalf("user/info %v, want %s", info, created.Owner.ID)
	}

	// Refresh rotates; the old refresh token works for one minute more.
	post := func(rt string) *resp {
		return token(c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}, "client_secret": {clientSecret}})
	}
	second := post(refresh).Want(200).Map()
	third := post(refresh).Want(200).Map() // within the grace minute
	clk.Advance(61 * time.Second)
	if r := post(refresh).Want(400); r.Map()["error"] != "invalid_grant" {
		t.Fatalf("old refresh after a minute: %s", r.Body)
	}
	c.ifttt("GET", "/user/info", access, nil).Want(401).ErrorMessage()
	c.ifttt("GET", "/user/info", second["access_token"].(string), nil).Want(401)
	newest := third["access_token"].(string)
	c.ifttt("GET", "/user/info", newest, nil).Want(200)

	// The connection is listed without tokens, and revoking it is a 401 at
	// once and stops its notifications.
	c.ifttt("POST", "/triggers/new_customer", newest, map[string]any{"trigger_identity": "tid-oauth", "triggerFields": map[string]any{}}).Want(200)
	pending := func() int64 { return api.Server.Redis.ZCard(ctx, api.Server.Keys.IFTTTPending()).Val() }
	api.Do("POST", "/v1/customers", created.RawKey, map[string]any{"name": "Before", "email": "before@example.com"}).Want(201)
	if n := pending(); n != 1 {
		t.Fatalf("pending notifications %d, want 1", n)
	}
	list := api.Do("GET", "/v1/oauth/connections", created.RawKey, nil).Want(200)
	for _, secret := range []string{newest, third["refresh_token"].(string), access} {
		if strings.Contains(string(list.Body), secret) {
			t.Fatal("a token is in the connection list")
		}
	}
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(list.Body, &page)
	if len(page.Data) != 1 {
		t.Fatalf("connections %s", list.Body)
	}
	api.Do("DELETE", "/v1/oauth/connections/"+page.Data[0].ID, created.RawKey, nil).Want(200)
	api.Do("DELETE", "/v1/oauth/connections/"+page.Data[0].ID, created.RawKey, nil).Want(404)
	c.ifttt("GET", "/user/info", newest, nil).Want(401).ErrorMessage()
	if r := post(third["refresh_token"].(string)).Want(400); r.Map()["error"] != "invalid_grant" {
		t.Fatalf("refresh after revocation: %s", r.Body)
	}
	api.Server.Redis.Del(ctx, api.Server.Keys.IFTTTPending())
	api.Do("POST", "/v1/customers", created.RawKey, map[string]any{"name": "After", "email": "after@example.com"}).Want(201)
	if n := pending(); n != 0 {
		t.Fatalf("pending notifications after revocation %d, want 0", n)
	}
	if n := api.Server.Redis.Exists(ctx, api.Server.Keys.IFTTTIdentity(created.Account.ID, "tid-oauth")).Val(); n != 0 {
		t.Fatal("the revoked connection's trigger identity is still registered")
	}
}

func TestSignInRateLimited(t *testing.T) {
	t.Parallel()
	api, _ := newAPI(t, "")
	c := newClient(t, api)
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirectURI}}
	form := hidden(t, c.do("GET", "/oauth/authorize?"+q.Encode(), nil).Want(200).Body)
	form.Set("email", "someone@example.com")
	form.Set("password", "guess")
	for range 10 {
		c.do("POST", "/oauth/signin", form).Want(401)
	}
	r := c.do("POST", "/oauth/signin", form).Want(429)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

func basic(id, secret string) string {
	return b64(url.QueryEscape(id) + ":" + url.QueryEscape(secret))
}

// TestAuthorize_SharesDashboardSignIn: a browser signed in to the
// dashboard goes from /oauth/authorize straight to the consent form (still
// CSRF-protected) and connects the dashboard's user; prompt=login and a
// signed-out browser get IFTTT's own sign-in form.
func TestAuthorize_SharesDashboardSignIn(t *testing.T) {
	t.Parallel()
	// Wired here as server.go wires it (the dashboard is built after the
	// IFTTT service's options are read, so it is looked up per request).
	var dash *web.Dashboard
	api, _ := newAPIWith(t, "", func(o *ifttt.Options) {
		o.Session = func(c *fiber.Ctx) (auth.Principal, bool) { return dash.SessionPrincipal(c) }
	})
	dash = api.Server.Web
	created, err := api.Server.Accounts.CreateAccount(context.Background(), accounts.NewAccount{Name: "Shared", Email: "owner-shared@example.com", Password: "password123"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, api)
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "state": {"st-dash"}}
	authorize := "/oauth/authorize?" + q.Encode()

	// Signed out: IFTTT's own form.
	if r := c.do("GET", authorize, nil).Want(200); !strings.Contains(string(r.Body), `action="signin"`) {
		t.Fatalf("signed out: no sign-in form: %s", r.Body)
	}

	// Sign in to the dashboard through its own form.
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(c.do("GET", "/login", nil).Want(200).Body)
	if m == nil {
		t.Fatal("no CSRF token on /login")
	}
	c.do("POST", "/login", url.Values{"csrf": {string(m[1])}, "email": {"owner-shared@example.com"}, "password": {"password123"}, "next": {"/webhooks"}}).Want(303)

	page := c.do("GET", authorize, nil).Want(200)
	body := string(page.Body)
	if !strings.Contains(body, "Allow IFTTT") || !strings.Contains(body, "owner-shared@example.com") || strings.Contains(body, `action="signin"`) {
		t.Fatalf("signed in: want the consent form naming the user: %s", body)
	}
	if !strings.Contains(body, "prompt=login") {
		t.Fatalf("no link to connect another account: %s", body)
	}
	form := hidden(t, page.Body)

	// The consent form still needs its CSRF cookie.
	form.Set("decision", "approve")
	newClient(t, api).do("POST", "/oauth/consent", form).Want(400)

	r := c.do("POST", "/oauth/consent", form).Want(302)
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != redirectURI || loc.Query().Get("state") != "st-dash" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect to %q", r.Header.Get("Location"))
	}
	tok := token(c, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirectURI}},
		"Authorization", "Basic "+basic(clientID, clientSecret)).Want(200).Map()
	info := c.ifttt("GET", "/user/info", tok["access_token"].(string), nil).Want(200).Data().(map[string]any)
	if info["id"] != created.Owner.ID {
		t.Fatalf("user/info %v, want %s", info, created.Owner.ID)
	}

	// prompt=login asks for a password even with a session.
	if r := c.do("GET", authorize+"&prompt=login", nil).Want(200); !strings.Contains(string(r.Body), `action="signin"`) {
		t.Fatalf("prompt=login: no sign-in form: %s", r.Body)
	}
	// A forged session cookie is no sign-in.
	if r := newClient(t, api).do("GET", authorize, nil, "Cookie", "hookline_session=forged").Want(200); strings.Contains(string(r.Body), "Allow IFTTT") {
		t.Fatal("a forged session cookie reached the consent form")
	}
}

// TestServiceConventions: user/info links the user's page when one is
// configured, and a missing permission is a 400 in IFTTT's error shape
// (the Service API has no 403; a 401 would condemn the token) naming it.
func TestServiceConventions(t *testing.T) {
	t.Parallel()
	api, _ := newAPIWith(t, "", func(o *ifttt.Options) { o.UserURL = "https://hookline.example/account" })
	created, err := api.Server.Accounts.CreateAccount(context.Background(), accounts.NewAccount{Name: "Narrow", Email: "owner-narrow@example.com", Password: "password123"})
	if err != nil {
		t.Fatal(err)
	}
	api.Do("POST", "/v1/users", created.RawKey, map[string]any{"name": "Reader", "email": "reader@example.com",
		"password": "password123", "permissions": []string{"read:customer"}}).Want(201)
	c := newClient(t, api)
	code := signIn(t, c, "reader@example.com", "password123", "approve").Get("code")
	tok := token(c, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}},
		"Authorization", "Basic "+basic(clientID, clientSecret)).Want(200).Map()
	access := tok["access_token"].(string)

	if info := c.ifttt("GET", "/user/info", access, nil).Want(200).Data().(map[string]any); info["url"] != "https://hookline.example/account" {
		t.Fatalf("user/info %v, want url https://hookline.example/account", info)
	}
	r := c.ifttt("POST", "/triggers/new_customer", access, map[string]any{"trigger_identity": "tid-narrow", "triggerFields": map[string]any{}}).Want(400)
	if msg := r.ErrorMessage(); !strings.Contains(msg, "subscribe:webhook") {
		t.Fatalf("missing permission message %q does not name it", msg)
	}
	// The query the user may run still answers.
	c.ifttt("POST", "/queries/list_customers", access, map[string]any{"limit": 1}).Want(200)
}
