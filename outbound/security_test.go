package outbound_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound"
)

// principal authenticates a raw key, as a request with it would be.
func principal(t *testing.T, api *apitest.API, raw string) auth.Principal {
	t.Helper()
	p, err := api.Server.Accounts.Authenticate(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// F2 (probe E2): a key with subscribe:webhook but not read:customer cannot
// re-point, turn on or off, re-auth or test its user's customer webhook,
// nor redeliver its history; harmless edits still work. The owner's
// re-pointing shows in the log: each attempt and the delivery carry the
// URL actually used.
func TestF2_SubscribeOnlyKeyCannotRepointOrRedeliver(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hookA, siphon := receiver.New(t), receiver.New(t)
	w := f.webhook(t, hookA, map[string]any{"events": []string{"customer.created"}, "retry_schedule": []string{}})
	f.activate(t, w.ID)
	hookA.WaitFor(t, 1, 10*time.Second)
	f.createCustomer(t, "ann@example.com")
	d := f.waitStatus(t, w.ID, "customer.created", "delivered", 10*time.Second)

	subOnly := f.Key(f.acct, perm.SubscribeWebhook)
	for name, body := range map[string]map[string]any{
		"url":     {"url": siphon.URL + "/siphon"},
		"method":  {"method": "GET"},
		"auth":    {"auth": map[string]any{"type": "bearer", "token": "t"}},
		"headers": {"headers": map[string]string{"X-A": "b"}},
		"active":  {"active": false},
	} {
		r := f.Do("PATCH", "/v1/webhooks/"+w.ID, subOnly, body).Want(403)
		if r.Map()["error"].(map[string]any)["permission"] != perm.ReadCustomer {
			t.Fatalf("PATCH %s: got %s, want a 403 naming read:customer", name, r.Body)
		}
	}
	f.Do("PATCH", "/v1/webhooks/"+w.ID, subOnly, map[string]any{"name": "renamed"}).Want(200)
	f.Do("POST", "/v1/webhooks/"+w.ID+"/test", subOnly, nil).Want(403)
	// The customer delivery is not the sub-only key's to read or resend (F3).
	f.Do("POST", "/v1/deliveries/"+d.ID+"/redeliver", subOnly, nil).Want(404)
	if n := siphon.Count(); n != 0 {
		t.Fatalf("got %d requests at the siphon, want 0", n)
	}

	// The owner re-points and redelivers: the log shows where each went.
	moved := receiver.New(t)
	f.Do("PATCH", "/v1/webhooks/"+w.ID, f.acct.Key, map[string]any{"url": moved.URL + "/moved"}).Want(200)
	var re struct{ URL string }
	f.Do("POST", "/v1/deliveries/"+d.ID+"/redeliver", f.acct.Key, nil).Want(202).JSON(&re)
	if re.URL != moved.URL+"/moved" {
		t.Fatalf("redeliver answered url %q, want the current %q", re.URL, moved.URL+"/moved")
	}
	moved.WaitFor(t, 1, 10*time.Second)
	var got struct {
		URL        string
		Attempts   int
		AttemptLog []struct{ URL string } `json:"attempt_log"`
	}
	apitest.WaitFor(t, 10*time.Second, "the redelivery to be logged", func() bool {
		f.Do("GET", "/v1/deliveries/"+d.ID, f.acct.Key, nil).Want(200).JSON(&got)
		return got.Attempts == 2
	})
	if got.URL != moved.URL+"/moved" || got.AttemptLog[0].URL != hookA.URL+"/hook" || got.AttemptLog[1].URL != moved.URL+"/moved" {
		t.Fatalf("got url %q and attempt urls %+v, want the URL each attempt used", got.URL, got.AttemptLog)
	}
}

// F3 (probe E2): delivery details carry the payload, so they need the
// event type's read permission; without it the delivery is not found.
func TestF3_DeliveryDetailNeedsEventReadPermission(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	w := f.webhook(t, recv, map[string]any{"events": []string{"customer.created"}})
	f.activate(t, w.ID)
	test := f.waitStatus(t, w.ID, "webhook.test", "delivered", 10*time.Second)
	f.createCustomer(t, "ann@example.com")
	d := f.waitStatus(t, w.ID, "customer.created", "delivered", 10*time.Second)

	tests := []struct {
		name   string
		key    string
		id     string
		status int
	}{
		{"subscribe only, customer delivery", f.Key(f.acct, perm.SubscribeWebhook), d.ID, 404},
		{"manage only, customer delivery", f.Key(f.acct, perm.ManageWebhook), d.ID, 404},
		{"subscribe only, webhook.test delivery", f.Key(f.acct, perm.SubscribeWebhook), test.ID, 200},
		{"subscribe and read, customer delivery", f.Key(f.acct, perm.SubscribeWebhook, perm.ReadCustomer), d.ID, 200},
		{"manage and read, customer delivery", f.Key(f.acct, perm.ManageWebhook, perm.ReadCustomer), d.ID, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.With(t).Do("GET", "/v1/deliveries/"+tc.id, tc.key, nil)
			if r.Status != tc.status {
				t.Fatalf("got %d %s, want %d", r.Status, r.Body, tc.status)
			}
			if r.Status == 404 && strings.Contains(string(r.Body), "ann@example.com") {
				t.Fatalf("the refusal shows the payload: %s", r.Body)
			}
		})
	}
}

// F7 (probe E6): a retry queued before the owner lost read:customer is
// not sent; the attempt says why, the delivery fails without retrying,
// and it does not count toward disabling the webhook.
func TestF7_PermissionLossStopsQueuedRetries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t, receiver.Statuses(200, 500)...) // the test event, then 500 for the rest
	w := f.webhook(t, recv, map[string]any{"events": []string{"customer.created"}, "retry_schedule": []string{"2s", "2s"}})
	f.activate(t, w.ID)
	recv.WaitFor(t, 1, 10*time.Second)
	f.createCustomer(t, "queued@example.com")
	recv.WaitFor(t, 2, 10*time.Second) // answered 500: a retry is queued for 2 s later

	ctx := context.Background()
	rdb, keys := f.Server.Redis, f.Server.Keys
	perms, err := rdb.HGet(ctx, keys.User(f.acct.ID, f.acct.UserID), "perms").Result()
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, p := range strings.Split(perms, ",") {
		if p != perm.ReadCustomer {
			kept = append(kept, p)
		}
	}
	if err := rdb.HSet(ctx, keys.User(f.acct.ID, f.acct.UserID), "perms", strings.Join(kept, ",")).Err(); err != nil {
		t.Fatal(err)
	}
	// The owner may no longer read the delivery's details either (F3): the
	// list and the stored attempts tell.
	var d deliveryJSON
	apitest.WaitFor(t, 15*time.Second, "the delivery to fail", func() bool {
		ds := f.deliveries(t, w.ID, "customer.created")
		if len(ds) == 1 {
			d = ds[0]
		}
		return d.Status == "failed"
	})
	f.Do("GET", "/v1/deliveries/"+d.ID, f.acct.Key, nil).Want(404)
	var wh struct {
		ConsecutiveFailures int `json:"consecutive_failures"`
		Active              bool
	}
	f.Do("GET", "/v1/webhooks/"+w.ID, f.acct.Key, nil).Want(200).JSON(&wh)
	if wh.ConsecutiveFailures != 0 || !wh.Active {
		t.Fatalf("got %+v, want the revoked attempt not counted", wh)
	}
	if n := len(only(recv.Requests(), "customer.created")); n != 1 {
		t.Fatalf("got %d customer.created requests, want only the first (500)", n)
	}
	raw, err := rdb.LRange(ctx, keys.Attempts(f.acct.ID, d.ID), 0, -1).Result()
	if err != nil || len(raw) != 2 || !strings.Contains(raw[1], `"ec":"permission_revoked"`) {
		t.Fatalf("got attempts %v (%v), want the second one permission_revoked", raw, err)
	}
}

// F8 (probe E7): revoking a credential turns off what it created, of any
// source, and webhooks show who created them.
func TestF8_DeactivateWebhooksOfCredential(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	mk := func() (string, string) {
		r := f.Do("POST", "/v1/keys", f.acct.Key, map[string]any{"name": "k", "permissions": []string{perm.SubscribeWebhook, perm.ReadCustomer}}).Want(201)
		return r.Str("api_key"), r.Str("id")
	}
	key1, id1 := mk()
	key2, _ := mk()
	create := func(key string) string {
		var w struct {
			ID        string
			CreatedBy *struct{ Kind, ID string } `json:"created_by"`
		}
		f.Do("POST", "/v1/webhooks", key, map[string]any{"name": "n", "url": recv.URL + "/after-revoke", "events": []string{"customer.created"}}).Want(201).JSON(&w)
		f.Do("PATCH", "/v1/webhooks/"+w.ID, key, map[string]any{"active": true}).Want(200)
		if key == key1 && (w.CreatedBy == nil || w.CreatedBy.Kind != "key" || w.CreatedBy.ID != id1) {
			t.Fatalf("got created_by %+v, want key %s", w.CreatedBy, id1)
		}
		return w.ID
	}
	a, b, c := create(key1), create(key1), create(key2)
	out, ctx := f.Server.Outbound, context.Background()
	if n, err := out.DeactivateWebhooksOfCredential(ctx, f.acct.ID, auth.Credential{Kind: auth.KindKey}); err == nil || n != 0 {
		t.Fatalf("empty credential id: got %d, %v; want 0 and an error", n, err)
	}
	n, err := out.DeactivateWebhooksOfCredential(ctx, f.acct.ID, auth.Credential{Kind: auth.KindKey, ID: id1})
	if err != nil || n != 2 {
		t.Fatalf("got %d, %v; want 2 turned off", n, err)
	}
	for id, want := range map[string]bool{a: false, b: false, c: true} {
		var w struct {
			Active         bool
			DisabledReason *string `json:"disabled_reason"`
		}
		f.Do("GET", "/v1/webhooks/"+id, f.acct.Key, nil).Want(200).JSON(&w)
		if w.Active != want || (!want && (w.DisabledReason == nil || *w.DisabledReason != "credential revoked")) {
			t.Fatalf("webhook %s: got %+v, want active %v", id, w, want)
		}
	}
	before := len(only(recv.Requests(), "customer.created"))
	f.createCustomer(t, "bob@example.com")
	apitest.WaitFor(t, 10*time.Second, "the live webhook's delivery", func() bool {
		return len(only(recv.Requests(), "customer.created")) == before+1
	})
	if got := len(f.deliveries(t, a, "customer.created")); got != 0 {
		t.Fatalf("got %d deliveries to a revoked key's webhook, want 0", got)
	}
}

// F10 (probe E9): a control character in the writer's chain does not
// fail the delivery (the header is left out), and a request Hookline
// cannot build does not count toward disabling the webhook.
func TestF10_BadChainAndUnsendableHeaderDoNotCount(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	w := f.webhook(t, recv, map[string]any{"events": []string{"customer.created"}, "retry_schedule": []string{}})
	f.activate(t, w.ID)
	recv.WaitFor(t, 1, 10*time.Second)
	ctx := context.Background()
	ev := f.Server.Events.New(f.acct.ID, "customer.created", []byte(`{"id":"cus_x"}`), events.Cause{Chain: "bad\x01chain"})
	if err := f.Server.Events.Record(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := f.Server.Outbound.Emit(ctx, ev); err != nil {
		t.Fatal(err)
	}
	f.waitStatus(t, w.ID, "customer.created", "delivered", 10*time.Second)
	if h := recv.Requests()[1].Header; h.Get("Hookline-Chain") != "" {
		t.Fatalf("got Hookline-Chain %q, want it left out", h.Get("Hookline-Chain"))
	}

	// A header value stored before the rule was tightened.
	if err := f.Server.Redis.HSet(ctx, f.Server.Keys.Webhook(f.acct.ID, w.ID), "headers", `{"X-A":"a\u0001b"}`).Err(); err != nil {
		t.Fatal(err)
	}
	f.createCustomer(t, "c1@example.com")
	apitest.WaitFor(t, 10*time.Second, "the unsendable delivery to fail", func() bool {
		for _, d := range f.deliveries(t, w.ID, "customer.created") {
			if d.Status == "failed" {
				return true
			}
		}
		return false
	})
	var wh struct {
		ConsecutiveFailures int `json:"consecutive_failures"`
	}
	f.Do("GET", "/v1/webhooks/"+w.ID, f.acct.Key, nil).Want(200).JSON(&wh)
	if wh.ConsecutiveFailures != 0 {
		t.Fatalf("got consecutive_failures %d, want 0: Hookline's own failure", wh.ConsecutiveFailures)
	}
	f.Do("POST", "/v1/webhooks", f.acct.Key, map[string]any{"name": "n", "url": recv.URL, "events": []string{"customer.created"},
		"headers": map[string]string{"X-A": "a\x01b"}}).Want(422)
}

// F12 (probe E11): the number of webhooks per account is bounded.
func TestF12_WebhookQuota(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, apitest.WithOutbound(func(o *outbound.Options) { o.MaxWebhooks = 3 }))
	a, b := api.NewAccount("A"), api.NewAccount("B")
	body := map[string]any{"name": "n", "url": "http://127.0.0.1:9/x", "events": []string{"customer.created"}}
	var first string
	for i := 0; i < 3; i++ {
		id := api.Do("POST", "/v1/webhooks", a.Key, body).Want(201).Str("id")
		if first == "" {
			first = id
		}
	}
	r := api.Do("POST", "/v1/webhooks", a.Key, body).Want(409)
	if !strings.Contains(string(r.Body), "limit of 3 webhooks") || r.ErrorCode() != apperr.CodeConflict {
		t.Fatalf("got %s, want a conflict naming the limit", r.Body)
	}
	api.Do("POST", "/v1/webhooks", b.Key, body).Want(201) // per account
	api.Do("DELETE", "/v1/webhooks/"+first, a.Key, nil).Want(200)
	api.Do("POST", "/v1/webhooks", a.Key, body).Want(201)
}

// F19 (probe E16): a rate below one a minute is refused, and one stored
// before the rule still delivers instead of jamming.
func TestF19_TinyRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	f.Do("POST", "/v1/webhooks", f.acct.Key, map[string]any{"name": "n", "url": recv.URL, "events": []string{"customer.created"}, "rate_limit": 0.001}).Want(422)
	w := f.webhook(t, recv, map[string]any{"rate_limit": 0.02})
	f.Do("PATCH", "/v1/webhooks/"+w.ID, f.acct.Key, map[string]any{"rate_limit": 0.01}).Want(422)
	if err := f.Server.Redis.HSet(context.Background(), f.Server.Keys.Webhook(f.acct.ID, w.ID), "rate_limit", "0.001").Err(); err != nil {
		t.Fatal(err)
	}
	f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
	f.waitStatus(t, w.ID, "webhook.test", "delivered", 10*time.Second)
}

// F25: query values of webhook URLs are not shown back; the receiver
// still gets them.
func TestF25_URLQueryRedactedInResponsesAndLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	r := f.Do("POST", "/v1/webhooks", f.acct.Key, map[string]any{"name": "n", "url": recv.URL + "/hook?token=s3cr3t-q", "events": []string{"customer.created"}}).Want(201)
	id := r.Str("id")
	tst := f.Do("POST", "/v1/webhooks/"+id+"/test", f.acct.Key, nil).Want(202)
	f.waitStatus(t, id, "webhook.test", "delivered", 10*time.Second)
	for _, body := range [][]byte{r.Body, tst.Body,
		f.Do("GET", "/v1/webhooks/"+id, f.acct.Key, nil).Want(200).Body,
		f.Do("GET", "/v1/webhooks", f.acct.Key, nil).Want(200).Body,
		f.Do("GET", "/v1/deliveries/"+tst.Str("id"), f.acct.Key, nil).Want(200).Body,
	} {
		if strings.Contains(string(body), "s3cr3t-q") || !strings.Contains(string(body), "token=[redacted]") {
			t.Fatalf("got %s, want the query value redacted", body)
		}
	}
	if u := recv.Requests()[0].URL; !strings.Contains(u, "token=s3cr3t-q") {
		t.Fatalf("receiver got %s, want the real query", u)
	}
}

// F27: per-webhook slots live only while requests are in flight.
func TestF27_WebhookSlotsDoNotGrow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	var ids []string
	for i := 0; i < 5; i++ {
		w := f.webhook(t, recv, nil)
		f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
		ids = append(ids, w.ID)
	}
	for _, id := range ids {
		f.waitStatus(t, id, "webhook.test", "delivered", 10*time.Second)
	}
	apitest.WaitFor(t, 5*time.Second, "every slot to be released", func() bool {
		return outbound.SlotsInUse(f.Server.Outbound, f.acct.ID) == 0
	})
}
