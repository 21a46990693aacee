package endpoints_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/outbound/signing"
)

var seq atomic.Int64

// email returns an address no other post in the test has used.
func email(prefix string) string {
	return fmt.Sprintf("%s%d@example.com", prefix, seq.Add(1))
}

// endpoint is a created endpoint as a test uses it.
type endpoint struct {
	ID, Path, Secret string
}

func create(t testing.TB, api *apitest.API, key string, body map[string]any) endpoint {
	t.Helper()
	r := api.Do("POST", "/v1/inbound-endpoints", key, body).Want(201)
	m := r.Map()
	u, err := url.Parse(m["url"].(string))
	if err != nil || !strings.HasPrefix(u.Path, "/in/hkin_") {
		t.Fatalf("url %v: %v", m["url"], err)
	}
	e := endpoint{ID: m["id"].(string), Path: u.Path}
	if s, ok := m["secret"].(string); ok {
		e.Secret = s
	}
	return e
}

// post sends a body to an endpoint path with a content type and headers
// (name, value pairs); no API key.
func post(api *apitest.API, path, ctype string, body []byte, headers ...string) *apitest.Resp {
	api.T.Helper()
	req := api.Request("POST", path, "", body, headers...)
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return api.Send(req)
}

func postJSON(api *apitest.API, path, body string, headers ...string) *apitest.Resp {
	api.T.Helper()
	return post(api, path, "application/json", []byte(body), headers...)
}

func multipartBody(t testing.TB, fields ...string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := w.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	fw, _ := w.CreateFormFile("attachment", "photo.jpg")
	_, _ = fw.Write([]byte("\xff\xd8 not really a jpeg"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

type customerPage struct {
	Data []struct{ ID, Name, Email, Phone, Notes string }
}

func customersByEmail(t testing.TB, api *apitest.API, key, addr string) customerPage {
	t.Helper()
	var p customerPage
	api.Do("GET", "/v1/customers?email="+url.QueryEscape(addr), key, nil).Want(200).JSON(&p)
	return p
}

type requestLog struct {
	Data []struct {
		ID, Body string
		SourceIP string `json:"source_ip"`
		Headers  map[string]string
		Input    map[string]any
		Status   int
		Error    *struct {
			Code    string
			Message string
			Fields  []struct{ Field, Message string }
		}
		ResourceID    *string `json:"resource_id"`
		Replayed      bool
		BodyTruncated bool `json:"body_truncated"`
		BodySize      int  `json:"body_size"`
	}
	NextCursor *string `json:"next_cursor"`
}

func requests(t testing.TB, api *apitest.API, key, id string) requestLog {
	t.Helper()
	var l requestLog
	api.Do("GET", "/v1/inbound-endpoints/"+id+"/requests", key, nil).Want(200).JSON(&l)
	return l
}

var contactMapping = map[string]any{
	"name":  "answers.name",
	"email": map[string]any{"path": "answers[email]", "transform": []string{"trim", "lowercase"}},
	"phone": "answers.phone",
	"notes": map[string]any{"path": "answers.message", "transform": []string{"trim"}, "default": "(no message)"},
}

func TestEndpoints_JSONUrlencodedAndMultipartMapAlike(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	ep := create(t, api, acct.Key, map[string]any{"name": "Contact form", "action": "create_customer", "mapping": contactMapping})

	jsonAddr, formAddr, multiAddr := email("json"), email("form"), email("multi")
	postJSON(api, ep.Path, fmt.Sprintf(`{"answers": {"name": "Ann", "email": "  %s ", "phone": 15550001}}`, strings.ToUpper(jsonAddr))).Want(202)

	form := url.Values{"answers.name": {"Bo"}, "answers[email]": {formAddr}, "answers.phone": {"+1 555-0002"}, "answers[message]": {"  hi  "}}
	post(api, ep.Path, "application/x-www-form-urlencoded", []byte(form.Encode())).Want(202)

	body, ctype := multipartBody(t, "answers[name]", "Cy", "answers.email", multiAddr, "answers[message]", "   ")
	post(api, ep.Path, ctype, body).Want(202)

	for _, tc := range []struct{ addr, name, phone, notes string }{
		{jsonAddr, "Ann", "15550001", "(no message)"},
		{formAddr, "Bo", "+1 555-0002", "hi"},
		{multiAddr, "Cy", "", "(no message)"},
	} {
		p := customersByEmail(t, api, acct.Key, tc.addr)
		if len(p.Data) != 1 {
			t.Fatalf("%s: %d customers", tc.addr, len(p.Data))
		}
		c := p.Data[0]
		if c.Name != tc.name || c.Email != tc.addr || c.Phone != tc.phone || c.Notes != tc.notes {
			t.Fatalf("customer %+v, want %+v", c, tc)
		}
	}

	// Unmappable and invalid input are 422s naming the action's fields.
	r := postJSON(api, ep.Path, `{"answers": {"name": "Dee", "email": {"work": "x"}}}`).Want(422)
	if !strings.Contains(string(r.Body), `"field":"email"`) {
		t.Fatalf("unmappable: %s", r.Body)
	}
	r = postJSON(api, ep.Path, `{"answers": {"name": "Dee"}}`).Want(422)
	if !strings.Contains(string(r.Body), `"field":"email"`) {
		t.Fatalf("missing email: %s", r.Body)
	}
	r = postJSON(api, ep.Path, `{"answers": {"name": "Dee", "email": "not-an-email"}}`).Want(422)
	if !strings.Contains(string(r.Body), `"field":"email"`) {
		t.Fatalf("invalid email: %s", r.Body)
	}
	postJSON(api, ep.Path, `{"answers": `).Want(400)
	post(api, ep.Path, "text/plain", []byte("hello")).Want(415)
}

func TestEndpoints_SuccessURLRedirectsFormPosts(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	ep := create(t, api, acct.Key, map[string]any{"name": "Signup", "action": "create_customer",
		"success_url": "https://example.com/thanks", "mapping": map[string]any{"name": "name", "email": "email"}})

	form := url.Values{"name": {"Ann"}, "email": {email("ann")}}
	r := post(api, ep.Path, "application/x-www-form-urlencoded", []byte(form.Encode())).Want(303)
	if r.Header.Get("Location") != "https://example.com/thanks" {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	body, ctype := multipartBody(t, "name", "Bo", "email", email("bo"))
	post(api, ep.Path, ctype, body).Want(303)
	// JSON senders are machines: they get "accepted" and the post's log id
	// (F4: never the customer).
	r = postJSON(api, ep.Path, fmt.Sprintf(`{"name": "Cy", "email": %q}`, email("cy"))).Want(202)
	if !strings.HasPrefix(r.Str("id"), "req_") || r.Str("status") != "accepted" || len(r.Map()) != 2 {
		t.Fatalf("answer %s, want {status: accepted, id: req_…}", r.Body)
	}
	// A refused form post is not redirected.
	post(api, ep.Path, "application/x-www-form-urlencoded", []byte("name=Dee")).Want(422)
}

func TestEndpoints_Verification(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	mapping := map[string]any{"name": "name", "email": "email"}
	body := func() []byte { return []byte(fmt.Sprintf(`{"name": "Ann", "email": %q}`, email("v"))) }
	hexHMAC := func(secret string, b []byte) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(b)
		return hex.EncodeToString(m.Sum(nil))
	}
	b64HMAC := func(secret string, b []byte) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(b)
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	standard := func(secret, id string, ts time.Time, b []byte) string {
		s, err := signing.NewSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s.StandardSignature(id, ts.Unix(), b)
	}
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}

	type attempt struct {
		name    string
		headers func(secret string, b []byte) []string
		query   string
		status  int
	}
	for _, tc := range []struct {
		name     string
		verify   map[string]any
		attempts []attempt
	}{
		{"token header", map[string]any{"type": "token", "header": "X-Form-Token"}, []attempt{
			{"correct", func(s string, _ []byte) []string { return []string{"X-Form-Token", s} }, "", 202},
			{"wrong", func(s string, _ []byte) []string { return []string{"X-Form-Token", s + "x"} }, "", 401},
			{"missing", func(string, []byte) []string { return nil }, "", 401},
		}},
		{"token query", map[string]any{"type": "token", "query": "key"}, []attempt{
			{"correct", func(string, []byte) []string { return nil }, "secret", 202},
			{"wrong", func(string, []byte) []string { return nil }, "wrong", 401},
			{"missing", func(string, []byte) []string { return nil }, "", 401},
		}},
		{"token bearer, given secret", map[string]any{"type": "token", "header": "Authorization", "secret": "a-long-enough-shared-secret"}, []attempt{
			{"correct", func(s string, _ []byte) []string { return []string{"Authorization", "Bearer " + s} }, "", 202},
			{"wrong", func(string, []byte) []string { return []string{"Authorization", "Bearer nope-nope-nope-nope"} }, "", 401},
			{"missing", func(string, []byte) []string { return nil }, "", 401},
		}},
		{"basic", map[string]any{"type": "basic", "username": "forms"}, []attempt{
			{"correct", func(s string, _ []byte) []string { return []string{"Authorization", basic("forms", s)} }, "", 202},
			{"wrong password", func(s string, _ []byte) []string { return []string{"Authorization", basic("forms", s+"x")} }, "", 401},
			{"wrong user", func(s string, _ []byte) []string { return []string{"Authorization", basic("other", s)} }, "", 401},
			{"missing", func(string, []byte) []string { return nil }, "", 401},
		}},
		{"hmac hex with prefix", map[string]any{"type": "hmac", "header": "X-Hub-Signature-256", "prefix": "sha256=", "secret": "typeform-secret"}, []attempt{
			{"correct", func(s string, b []byte) []string { return []string{"X-Hub-Signature-256", "sha256=" + hexHMAC(s, b)} }, "", 202},
			{"upper-case hex", func(s string, b []byte) []string {
				return []string{"X-Hub-Signature-256", "sha256=" + strings.ToUpper(hexHMAC(s, b))}
			}, "", 202},
			{"wrong", func(s string, b []byte) []string {
				return []string{"X-Hub-Signature-256", "sha256=" + hexHMAC(s+"x", b)}
			}, "", 401},
			{"no prefix", func(s string, b []byte) []string { return []string{"X-Hub-Signature-256", hexHMAC(s, b)} }, "", 401},
			{"over another body", func(s string, _ []byte) []string {
				return []string{"X-Hub-Signature-256", "sha256=" + hexHMAC(s, []byte("{}"))}
			}, "", 401},
			{"missing", func(string, []byte) []string { return nil }, "", 401},
		}},
		{"hmac base64", map[string]any{"type": "hmac", "header": "X-Signature", "encoding": "base64", "algorithm": "sha256"}, []attempt{
			{"correct", func(s string, b []byte) []string { return []string{"X-Signature", b64HMAC(s, b)} }, "", 202},
			{"wrong", func(s string, b []byte) []string { return []string{"X-Signature", b64HMAC("x"+s, b)} }, "", 401},
			{"missing", func(string, []byte) []string { return nil }, "", 401},
		}},
		{"standard webhooks", map[string]any{"type": "standard_webhooks"}, []attempt{
			{"correct", func(s string, b []byte) []string {
				id := "msg_" + strconv.FormatInt(seq.Add(1), 10)
				return []string{"webhook-id", id, "webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10), "webhook-signature", standard(s, id, time.Now(), b)}
			}, "", 202},
			{"one of several signatures", func(s string, b []byte) []string {
				id := "msg_" + strconv.FormatInt(seq.Add(1), 10)
				return []string{"webhook-id", id, "webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10),
					"webhook-signature", "v1,bm9wZQ== " + standard(s, id, time.Now(), b)}
			}, "", 202},
			{"wrong", func(s string, b []byte) []string {
				return []string{"webhook-id", "msg_w", "webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10), "webhook-signature", standard(signing.NewSecret(), "msg_w", time.Now(), b)}
			}, "", 401},
			{"stale timestamp", func(s string, b []byte) []string {
				old := time.Now().Add(-6 * time.Minute)
				return []string{"webhook-id", "msg_old", "webhook-timestamp", strconv.FormatInt(old.Unix(), 10), "webhook-signature", standard(s, "msg_old", old, b)}
			}, "", 401},
			{"future timestamp", func(s string, b []byte) []string {
				later := time.Now().Add(6 * time.Minute)
				return []string{"webhook-id", "msg_new", "webhook-timestamp", strconv.FormatInt(later.Unix(), 10), "webhook-signature", standard(s, "msg_new", later, b)}
			}, "", 401},
			{"missing signature", func(s string, b []byte) []string {
				return []string{"webhook-id", "msg_m", "webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10)}
			}, "", 401},
			{"missing timestamp", func(s string, b []byte) []string {
				return []string{"webhook-id", "msg_t", "webhook-signature", standard(s, "msg_t", time.Now(), b)}
			}, "", 401},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := api.With(t)
			ep := create(t, api, acct.Key, map[string]any{"name": tc.name, "action": "create_customer", "mapping": mapping, "verification": tc.verify})
			if ep.Secret == "" {
				t.Fatal("no secret shown at creation")
			}
			for _, at := range tc.attempts {
				b := body()
				path := ep.Path
				if at.query == "secret" {
					path += "?key=" + url.QueryEscape(ep.Secret)
				} else if at.query != "" {
					path += "?key=" + at.query
				}
				r := postJSON(api, path, string(b), at.headers(ep.Secret, b)...)
				if r.Status != at.status {
					t.Fatalf("%s: status %d, want %d: %s", at.name, r.Status, at.status, r.Body)
				}
				if at.status == 401 && r.ErrorCode() != "unauthorized" {
					t.Fatalf("%s: %s", at.name, r.Body)
				}
			}
			// The secret is shown once: never in the endpoint afterwards.
			g := api.Do("GET", "/v1/inbound-endpoints/"+ep.ID, acct.Key, nil).Want(200)
			if strings.Contains(string(g.Body), ep.Secret) || strings.Contains(string(g.Body), `"secret"`) {
				t.Fatalf("secret leaked: %s", g.Body)
			}
		})
	}
}

func TestEndpoints_VerificationSettingsAreChecked(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	for _, tc := range []struct {
		name   string
		verify map[string]any
		field  string
	}{
		{"unknown type", map[string]any{"type": "magic"}, "verification.type"},
		{"hmac without header", map[string]any{"type": "hmac"}, "verification.header"},
		{"token header and query", map[string]any{"type": "token", "header": "X-T", "query": "t"}, "verification.query"},
		{"short token secret", map[string]any{"type": "token", "secret": "short"}, "verification.secret"},
		{"basic without username", map[string]any{"type": "basic"}, "verification.username"},
		{"setting of another type", map[string]any{"type": "none", "header": "X-T"}, "verification.header"},
		{"bad standard secret", map[string]any{"type": "standard_webhooks", "secret": "whsec_c2hvcnQ="}, "verification.secret"},
		{"bad encoding", map[string]any{"type": "hmac", "header": "X-S", "encoding": "base32"}, "verification.encoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := api.With(t).Do("POST", "/v1/inbound-endpoints", acct.Key, map[string]any{
				"name": "x", "action": "create_customer", "verification": tc.verify}).Want(422)
			if !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
				t.Fatalf("got %s, want a 422 on %s", r.Body, tc.field)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"unknown action", map[string]any{"name": "x", "action": "explode"}, "action"},
		{"mapping to a field the action lacks", map[string]any{"name": "x", "action": "find_customer", "mapping": map[string]any{"name": "a"}}, "mapping.name"},
		{"bad success url", map[string]any{"name": "x", "action": "create_customer", "success_url": "javascript:alert(1)"}, "success_url"},
		{"rate limit too high", map[string]any{"name": "x", "action": "create_customer", "rate_limit": 100000}, "rate_limit"},
		{"no name", map[string]any{"action": "create_customer"}, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := api.With(t).Do("POST", "/v1/inbound-endpoints", acct.Key, tc.body).Want(422)
			if !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
				t.Fatalf("got %s, want a 422 on %s", r.Body, tc.field)
			}
		})
	}
}

func TestEndpoints_ManagementAndPermissions(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	ep := create(t, api, acct.Key, map[string]any{"name": " Form ", "action": "create_customer",
		"mapping": map[string]any{"email": "e", "name": map[string]any{"path": "n", "default": "Anonymous"}}})
	pub := create(t, api, acct.Key, map[string]any{"name": "Orders", "action": "publish_event",
		"mapping": map[string]any{"type": map[string]any{"path": "", "default": "order.paid"}, "data.order_id": "id"}})

	var got map[string]any
	api.Do("GET", "/v1/inbound-endpoints/"+ep.ID, acct.Key, nil).Want(200).JSON(&got)
	if got["name"] != "Form" || got["rate_limit"] != float64(60) || got["paused"] != false || got["success_url"] != nil {
		t.Fatalf("endpoint %v", got)
	}
	if m := got["mapping"].(map[string]any)["email"].(map[string]any); m["path"] != "e" {
		t.Fatalf("mapping stored as %v", got["mapping"])
	}

	// Creating needs the action's permission; so does seeing the endpoint.
	readOnly := api.Key(acct, perm.ReadCustomer)
	r := api.Do("POST", "/v1/inbound-endpoints", readOnly, map[string]any{"name": "x", "action": "create_customer"}).Want(403)
	if r.Map()["error"].(map[string]any)["permission"] != perm.CreateCustomer {
		t.Fatalf("403 does not name the permission: %s", r.Body)
	}
	api.Do("GET", "/v1/inbound-endpoints/"+ep.ID, readOnly, nil).Want(403)
	creator := api.Key(acct, perm.CreateCustomer)
	var page struct {
		Data []struct{ ID string }
	}
	api.Do("GET", "/v1/inbound-endpoints", creator, nil).Want(200).JSON(&page)
	if len(page.Data) != 1 || page.Data[0].ID != ep.ID {
		t.Fatalf("a create:customer key lists %v, want only %s (not the publish_event one)", page.Data, ep.ID)
	}
	api.Do("GET", "/v1/inbound-endpoints", acct.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 2 || page.Data[0].ID != pub.ID {
		t.Fatalf("owner lists %v, want both, newest first", page.Data)
	}
	api.Do("GET", "/v1/inbound-endpoints/inb_01jd9q6m3v6f0t1r2y3x4z5a6b", acct.Key, nil).Want(404)
	api.Do("GET", "/v1/inbound-endpoints/nope", acct.Key, nil).Want(404)
	other := api.NewAccount("Other")
	api.Do("GET", "/v1/inbound-endpoints/"+ep.ID, other.Key, nil).Want(404)

	// PATCH: rename, remap, add verification (secret shown once), the action stays.
	var upd map[string]any
	api.Do("PATCH", "/v1/inbound-endpoints/"+ep.ID, acct.Key, map[string]any{
		"name": "Form v2", "mapping": map[string]any{"email": "contact.email", "name": "contact.name"},
		"verification": map[string]any{"type": "token"}, "rate_limit": 10, "success_url": "https://example.com/ok",
	}).Want(200).JSON(&upd)
	secret, _ := upd["secret"].(string)
	if upd["name"] != "Form v2" || secret == "" || upd["rate_limit"] != float64(10) || upd["success_url"] != "https://example.com/ok" {
		t.Fatalf("patched %v", upd)
	}
	api.Do("PATCH", "/v1/inbound-endpoints/"+ep.ID, acct.Key, map[string]any{"action": "delete_customer"}).Want(422)
	var cleared map[string]any
	api.Do("PATCH", "/v1/inbound-endpoints/"+ep.ID, acct.Key, map[string]any{"success_url": ""}).Want(200).JSON(&cleared)
	if _, shown := cleared["secret"]; shown || cleared["success_url"] != nil {
		t.Fatalf("a patch without verification shows a secret, or success_url not cleared: %v", upd)
	}
	addr := email("patched")
	postJSON(api, ep.Path, fmt.Sprintf(`{"contact": {"email": %q, "name": "P"}}`, addr), "X-Hookline-Token", secret).Want(202)

	// publish_event builds data from dotted keys.
	api.Do("POST", "/v1/event-types", acct.Key, map[string]any{"name": "order.paid", "description": "An order was paid.",
		"sample": map[string]any{"order_id": "o1"}}).Want(201)
	r = postJSON(api, pub.Path, `{"id": "o-42"}`).Want(202)
	var evs struct {
		Data []struct {
			Type string
			Data map[string]any
		}
	}
	api.Do("GET", "/v1/events?type=order.paid", acct.Key, nil).Want(200).JSON(&evs)
	if len(evs.Data) != 1 || evs.Data[0].Data["order_id"] != "o-42" {
		t.Fatalf("published %v (answer %s)", evs.Data, r.Body)
	}

	// Rotation: the old URL is gone at once, the new one works.
	var rot struct{ ID, URL string }
	api.Do("POST", "/v1/inbound-endpoints/"+pub.ID+"/rotate-token", acct.Key, nil).Want(200).JSON(&rot)
	u, _ := url.Parse(rot.URL)
	if rot.ID != pub.ID || u.Path == pub.Path {
		t.Fatalf("rotated %+v", rot)
	}
	postJSON(api, pub.Path, `{"id": "o-43"}`).Want(404)
	postJSON(api, u.Path, `{"id": "o-44"}`).Want(202)

	// Delete: the URL answers 404 at once.
	api.Do("DELETE", "/v1/inbound-endpoints/"+pub.ID, acct.Key, nil).Want(200)
	api.Do("GET", "/v1/inbound-endpoints/"+pub.ID, acct.Key, nil).Want(404)
	postJSON(api, u.Path, `{"id": "o-45"}`).Want(404)
	postJSON(api, "/in/hkin_unknown", `{}`).Want(404)
	postJSON(api, "/in/nothing-like-a-token", `{}`).Want(404)
}

func TestEndpoints_RefusalsBeforeTheAction(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	ep := create(t, api, acct.Key, map[string]any{"name": "Form", "action": "create_customer", "rate_limit": 3})
	ok := func() string { return fmt.Sprintf(`{"name": "Ann", "email": %q}`, email("r")) }

	// 413 is decided on the raw size, before parsing: this is not even JSON.
	r := postJSON(api, ep.Path, "{"+strings.Repeat("x", 300<<10)).Want(413)
	if r.ErrorCode() != "payload_too_large" {
		t.Fatalf("413 body %s", r.Body)
	}
	// Compressed bodies are refused without inflating them.
	post(api, ep.Path, "application/json", []byte("\x1f\x8b garbage"), "Content-Encoding", "gzip").Want(415)

	// Paused: 403, and back on.
	api.Do("PATCH", "/v1/inbound-endpoints/"+ep.ID, acct.Key, map[string]any{"paused": true}).Want(200)
	r = postJSON(api, ep.Path, ok()).Want(403)
	if r.ErrorCode() != "forbidden" || !strings.Contains(string(r.Body), "paused") {
		t.Fatalf("paused body %s", r.Body)
	}
	api.Do("PATCH", "/v1/inbound-endpoints/"+ep.ID, acct.Key, map[string]any{"paused": false}).Want(200)

	// Rate limit: 3 a minute. The refusals above came before the limiter
	// (size, encoding, pause) and did not count.
	for i := 0; i < 3; i++ {
		postJSON(api, ep.Path, ok()).Want(202)
	}
	r = postJSON(api, ep.Path, ok()).Want(429)
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if r.ErrorCode() != "rate_limited" {
		t.Fatalf("429 body %s", r.Body)
	}
	// Each endpoint has its own bucket.
	other := create(t, api, acct.Key, map[string]any{"name": "Other", "action": "create_customer"})
	postJSON(api, other.Path, ok()).Want(202)

	// Loop safety: a forwarded chain past the hop limit is a 508.
	r = postJSON(api, other.Path, ok(), "Hookline-Chain", "chn_01jd9q6m3v6f0t1r2y3x4z5a6b", "Hookline-Hop", "3").Want(508)
	if r.ErrorCode() != "loop_detected" {
		t.Fatalf("508 body %s", r.Body)
	}
	postJSON(api, other.Path, ok(), "Hookline-Chain", "chn_01jd9q6m3v6f0t1r2y3x4z5a6b", "Hookline-Hop", "1").Want(202)
}

func TestEndpoints_OwnerPermissionsAreReadAtEachPost(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	ep := create(t, api, acct.Key, map[string]any{"name": "Form", "action": "create_customer"})
	ok := func() string { return fmt.Sprintf(`{"name": "Ann", "email": %q}`, email("o")) }
	postJSON(api, ep.Path, ok()).Want(202)

	ctx := context.Background()
	rdb, keys := api.Server.Redis, api.Server.Keys
	userKey := keys.User(acct.ID, acct.UserID)
	all := strings.Join(perm.All, ",")
	without := strings.ReplaceAll(all, perm.CreateCustomer+",", "")

	// The owner loses create:customer: the endpoint stops at once.
	if err := rdb.HSet(ctx, userKey, "perms", without).Err(); err != nil {
		t.Fatal(err)
	}
	r := postJSON(api, ep.Path, ok()).Want(403)
	if r.Map()["error"].(map[string]any)["permission"] != perm.CreateCustomer {
		t.Fatalf("403 does not name the permission: %s", r.Body)
	}
	if err := rdb.HSet(ctx, userKey, "perms", all).Err(); err != nil {
		t.Fatal(err)
	}
	postJSON(api, ep.Path, ok()).Want(202)

	// The account is closed: stopped too.
	if err := rdb.HSet(ctx, keys.Account(acct.ID), "status", "closed").Err(); err != nil {
		t.Fatal(err)
	}
	r = postJSON(api, ep.Path, ok()).Want(403)
	if !strings.Contains(string(r.Body), "no longer active") {
		t.Fatalf("closed account: %s", r.Body)
	}
	if err := rdb.HSet(ctx, keys.Account(acct.ID), "status", "active").Err(); err != nil {
		t.Fatal(err)
	}
	// The owner is gone.
	if err := rdb.Del(ctx, userKey).Err(); err != nil {
		t.Fatal(err)
	}
	postJSON(api, ep.Path, ok()).Want(403)
}

func TestEndpoints_SenderKeyMakesARetryAReplay(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	ep := create(t, api, acct.Key, map[string]any{"name": "Booking", "action": "create_customer"})
	addr := email("idem")
	body := fmt.Sprintf(`{"name": "Ann", "email": %q}`, addr)

	first := postJSON(api, ep.Path, body, "Idempotency-Key", "booking-1").Want(202)
	again := postJSON(api, ep.Path, body, "Idempotency-Key", "booking-1").Want(202)
	if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Fatalf("replay %s %v, want the first answer %s", again.Body, again.Header, first.Body)
	}
	if n := len(customersByEmail(t, api, acct.Key, addr).Data); n != 1 {
		t.Fatalf("%d customers after a retried submission, want 1", n)
	}
	// The same key with another body is not a retry.
	r := postJSON(api, ep.Path, fmt.Sprintf(`{"name": "Bo", "email": %q}`, email("idem")), "Idempotency-Key", "booking-1").Want(422)
	if r.ErrorCode() != "idempotency_key_reused" {
		t.Fatalf("reuse: %s", r.Body)
	}
	// Without a key, a retry is a second submission; here of a taken email,
	// which a public endpoint answers like a new one (F4) and creates nothing.
	postJSON(api, ep.Path, body).Want(202)
	if n := len(customersByEmail(t, api, acct.Key, addr).Data); n != 1 {
		t.Fatalf("%d customers after a second submission, want 1", n)
	}

	// Standard Webhooks senders retry with the same webhook-id.
	sw := create(t, api, acct.Key, map[string]any{"name": "Signed", "action": "create_customer",
		"verification": map[string]any{"type": "standard_webhooks"}})
	addr2 := email("sw")
	b := []byte(fmt.Sprintf(`{"name": "Cy", "email": %q}`, addr2))
	signer, _ := signing.NewSigner(sw.Secret)
	sign := func(ts time.Time) []string {
		return []string{"webhook-id", "msg_retry", "webhook-timestamp", strconv.FormatInt(ts.Unix(), 10),
			"webhook-signature", signer.StandardSignature("msg_retry", ts.Unix(), b)}
	}
	postJSON(api, sw.Path, string(b), sign(time.Now())...).Want(202)
	r = postJSON(api, sw.Path, string(b), sign(time.Now().Add(time.Second))...).Want(202)
	if r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("webhook-id retry not replayed: %v", r.Header)
	}
	if n := len(customersByEmail(t, api, acct.Key, addr2).Data); n != 1 {
		t.Fatalf("%d customers after a webhook-id retry, want 1", n)
	}
	// A forged post cannot occupy a key: verification comes first.
	postJSON(api, sw.Path, `{"name": "X", "email": "x@example.com"}`, "webhook-id", "msg_forged",
		"webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10), "webhook-signature", "v1,Zm9yZ2Vk").Want(401)

	// A refused post is not kept: its retry runs afresh.
	postJSON(api, ep.Path, `{"name": "Dee"}`, "Idempotency-Key", "booking-2").Want(422)
	postJSON(api, ep.Path, fmt.Sprintf(`{"name": "Dee", "email": %q}`, email("dee")), "Idempotency-Key", "booking-2").Want(202)
}

func TestEndpoints_RequestLogIsRedacted(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	ep := create(t, api, acct.Key, map[string]any{"name": "Signed form", "action": "create_customer",
		"mapping":      map[string]any{"email": map[string]any{"path": "email", "transform": []string{"lowercase"}}, "name": "name"},
		"verification": map[string]any{"type": "hmac", "header": "X-Sig", "secret": "hmac-shared-secret"}})
	sign := func(b string) string {
		m := hmac.New(sha256.New, []byte("hmac-shared-secret"))
		m.Write([]byte(b))
		return hex.EncodeToString(m.Sum(nil))
	}
	addr := email("log")
	body := fmt.Sprintf(`{"name": "Ann", "email": %q}`, strings.ToUpper(addr))
	// Over a real connection, so the source address is real.
	req, _ := http.NewRequest("POST", api.URL()+ep.Path, strings.NewReader(body))
	for _, kv := range [][2]string{{"Content-Type", "application/json"}, {"X-Sig", sign(body)},
		{"Authorization", "Bearer sekrit-bearer"}, {"Cookie", "session=sekrit-cookie"}, {"X-Api-Token", "sekrit-token"},
		{"X-Client-Secret", "sekrit-secret"}, {"X-Upstream-Key", "sekrit-key"}, {"Idempotency-Key", "visible-idem"},
		{"X-Custom", "sekrit-custom"}, {"X-Form-Credential", "sekrit-cred-123"}, {"User-Agent", "FormApp/1.0"},
		{"Referer", "https://form.example/page?key=sekrit-referer-token&x=1"}} {
		req.Header.Set(kv[0], kv[1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 202 {
		t.Fatalf("signed post: %d", res.StatusCode)
	}
	// A post failing verification is counted, not logged (F5).
	postJSON(api, ep.Path, `{"name": "Bo"}`, "X-Sig", "deadbeef", "X-Form-Credential", "sekrit-unverified").Want(401)
	postJSON(api, ep.Path, `{"name": `, "X-Sig", sign(`{"name": `)).Want(400)
	big := `{"name": "Cy", "pad": "` + strings.Repeat("é", 6000) + `"}`
	postJSON(api, ep.Path, big, "X-Sig", sign(big)).Want(422)

	raw := api.Do("GET", "/v1/inbound-endpoints/"+ep.ID+"/requests", acct.Key, nil).Want(200)
	for _, s := range []string{"sekrit", "hmac-shared-secret", sign(body)} {
		if strings.Contains(string(raw.Body), s) {
			t.Fatalf("request log leaks %q: %s", s, raw.Body)
		}
	}
	var l requestLog
	raw.JSON(&l)
	if len(l.Data) != 3 {
		t.Fatalf("%d logged posts, want 3", len(l.Data))
	}
	// Newest first.
	tooBig, malformed, created := l.Data[0], l.Data[1], l.Data[2]

	// Only allowlisted headers show their values (F25, E18): a credential
	// under any other name stays hidden, and Referer loses its query values.
	h := created.Headers
	for _, name := range []string{"X-Sig", "Authorization", "Cookie", "X-Api-Token", "X-Client-Secret", "X-Upstream-Key",
		"X-Custom", "X-Form-Credential"} {
		if h[name] != "[redacted]" {
			t.Fatalf("header %s = %q, want [redacted] (headers %v)", name, h[name], h)
		}
	}
	if h["Idempotency-Key"] != "visible-idem" || h["User-Agent"] != "FormApp/1.0" || h["Content-Type"] != "application/json" {
		t.Fatalf("plain headers lost: %v", h)
	}
	if h["Referer"] != "https://form.example/page?key=[redacted]&x=[redacted]" {
		t.Fatalf("Referer %q, want its query values redacted", h["Referer"])
	}
	if created.Status != 202 || created.Error != nil || created.ResourceID == nil || !strings.HasPrefix(*created.ResourceID, "cus_") {
		t.Fatalf("created outcome %+v", created)
	}
	if created.Body != body || created.Input["email"] != addr || created.Input["name"] != "Ann" || created.SourceIP != "127.0.0.1" {
		t.Fatalf("created record %+v", created)
	}
	if malformed.Status != 400 || malformed.Error == nil || malformed.Error.Code != "bad_request" || malformed.Input != nil {
		t.Fatalf("malformed outcome %+v", malformed)
	}
	var got struct {
		Refused struct{ Auth, Rate, Size, Paused int }
	}
	api.Do("GET", "/v1/inbound-endpoints/"+ep.ID, acct.Key, nil).Want(200).JSON(&got)
	if got.Refused.Auth != 1 || got.Refused.Rate != 0 {
		t.Fatalf("refused %+v, want auth 1", got.Refused)
	}
	if tooBig.Status != 422 || tooBig.Error == nil || len(tooBig.Error.Fields) == 0 || tooBig.Error.Fields[0].Field != "email" {
		t.Fatalf("422 outcome %+v", tooBig)
	}
	if !tooBig.BodyTruncated || len(tooBig.Body) > 8<<10 || tooBig.BodySize != len(big) {
		t.Fatalf("body not truncated to 8 KiB: %d bytes kept, truncated=%v, size %d", len(tooBig.Body), tooBig.BodyTruncated, tooBig.BodySize)
	}

	// Paging.
	var page requestLog
	api.Do("GET", "/v1/inbound-endpoints/"+ep.ID+"/requests?limit=2", acct.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 2 || page.NextCursor == nil {
		t.Fatalf("page 1 %d items, cursor %v", len(page.Data), page.NextCursor)
	}
	api.Do("GET", "/v1/inbound-endpoints/"+ep.ID+"/requests?limit=2&cursor="+*page.NextCursor, acct.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 1 || page.Data[0].ID != created.ID || page.NextCursor != nil {
		t.Fatalf("page 2 %+v", page)
	}
	api.Do("GET", "/v1/inbound-endpoints/"+ep.ID+"/requests", api.Key(acct, perm.ReadCustomer), nil).Want(403)
}

func TestEndpoints_RequestLogIsBounded(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	ep := create(t, api, acct.Key, map[string]any{"name": "Form", "action": "find_customer", "rate_limit": 6000})
	for i := 0; i < 1005; i++ {
		req := api.Request("POST", ep.Path, "", `{"email": "nobody@example.com"}`)
		res, err := api.App.Test(req, -1) // unchecked: 1,005 identical answers add nothing
		if err != nil || res.StatusCode != http.StatusAccepted {
			t.Fatalf("post %d: %v %v", i, res, err)
		}
	}
	n, err := api.Server.Redis.ZCard(context.Background(), api.Server.Keys.InboundRequests(acct.ID, ep.ID)).Result()
	if err != nil || n != 1000 {
		t.Fatalf("request index holds %d, want 1000 (%v)", n, err)
	}
	// What the bound trims is deleted, not only unindexed (F5).
	if recs := countKeys(t, api, api.Server.Keys.InboundRequest(acct.ID, "")+"*"); recs != 1000 {
		t.Fatalf("%d request records, want the 1000 the index holds", recs)
	}
	ttl, err := api.Server.Redis.TTL(context.Background(), api.Server.Keys.InboundRequests(acct.ID, ep.ID)).Result()
	if err != nil || ttl <= 0 || ttl > 30*24*time.Hour {
		t.Fatalf("request index TTL %v (%v)", ttl, err)
	}
}
