package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/internal/apitest"
)

// htmxSHA256 pins the vendored htmx.org 2.0.11 dist/htmx.min.js (npm pack
// htmx.org@2.0.11). Updating htmx means updating this line on purpose.
const htmxSHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"

func TestVendoredHTMXChecksum(t *testing.T) {
	b, err := os.ReadFile("static/htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != htmxSHA256 {
		t.Fatalf("static/htmx.min.js: got sha256 %s, want %s", got, htmxSHA256)
	}
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) do(method, path string, form url.Values) (int, http.Header, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(raw)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, _, body := b.do("GET", path, nil)
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

func newOwner(t *testing.T, api *apitest.API, email string) accounts.Created {
	c, err := api.Server.Accounts.CreateAccount(context.Background(), accounts.NewAccount{Name: "Acme", Email: email, Password: "password123"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (b *browser) login(email, password string) int {
	b.t.Helper()
	tok := b.csrf("/login")
	st, _, _ := b.do("POST", "/login", url.Values{"csrf": {tok}, "email": {email}, "password": {password}, "next": {"/webhooks"}})
	return st
}

// Sign-in, the signed-in headers, CSRF on dashboard forms only, and the
// throttle, over a real connection.
func TestSessions_SignInCSRFThrottle(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	owner := newOwner(t, api, "owner@example.com")
	b := newBrowser(t, api.URL())

	st, h, _ := b.do("GET", "/webhooks", nil)
	if st != 303 || !strings.HasPrefix(h.Get("Location"), "/login?next=") {
		t.Fatalf("signed out: got %d %q, want 303 to /login", st, h.Get("Location"))
	}
	if st := b.login("owner@example.com", "wrong-password"); st != 401 {
		t.Fatalf("wrong password: got %d, want 401", st)
	}
	if st := b.login("OWNER@example.com", "password123"); st != 303 {
		t.Fatalf("sign in: got %d, want 303", st)
	}
	st, h, body := b.do("GET", "/webhooks", nil)
	if st != 200 || !strings.Contains(body, "No webhooks yet") {
		t.Fatalf("webhooks: got %d\n%s", st, body)
	}
	for name, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "same-origin",
		"Content-Security-Policy": "default-src 'self'"} {
		if !strings.Contains(h.Get(name), want) {
			t.Errorf("%s: got %q, want it to contain %q", name, h.Get(name), want)
		}
	}
	for _, c := range b.c.Jar.Cookies(mustURL(api.URL())) {
		if c.Name == "hookline_session" && c.Value == "" {
			t.Error("empty session cookie")
		}
	}

	// A post without the token changes nothing.
	form := url.Values{"name": {"x"}, "permissions": {"read:customer"}}
	if st, _, _ := b.do("POST", "/keys", form); st != 403 {
		t.Fatalf("POST without CSRF: got %d, want 403", st)
	}
	if ks := api.Do("GET", "/v1/keys", owner.RawKey, nil).Want(200).Map()["data"].([]any); len(ks) != 1 {
		t.Fatalf("got %d keys after a refused post, want 1", len(ks))
	}
	// /v1 takes no CSRF token and no session.
	api.Do("GET", "/v1/me", owner.RawKey, nil).Want(200)

	// The throttle: five failures, then even the right password is refused.
	c := newBrowser(t, api.URL())
	for i := 0; i < 5; i++ {
		c.login("owner@example.com", "nope-nope")
	}
	if st := c.login("owner@example.com", "password123"); st != 429 {
		t.Fatalf("after 5 failures: got %d, want 429", st)
	}
}

func mustURL(s string) *url.URL {
	u, _ := url.Parse(s)
	return u
}
