package outbound_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound"
)

func TestDelivery_POSTSignedAndVerifiedIndependently(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	w := f.webhook(t, recv, nil)
	if !strings.HasPrefix(w.Secret, "whsec_") || w.Active {
		t.Fatalf("created webhook %+v, want an inactive one with a whsec_ secret", w)
	}
	f.activate(t, w.ID)
	// Activation sends webhook.test at once.
	first := recv.WaitFor(t, 1, 10*time.Second)[0]
	if !strings.Contains(string(first.Body), `"type":"webhook.test"`) {
		t.Fatalf("first request is not webhook.test: %s", first.Body)
	}

	cus := f.createCustomer(t, "ann@example.com")
	reqs := only(recv.WaitFor(t, 2, 10*time.Second), "customer.created")
	if len(reqs) != 1 {
		t.Fatalf("%d customer.created requests, want 1", len(reqs))
	}
	r := reqs[0]

	// An independent Standard Webhooks implementation accepts the request.
	wh, err := standardwebhooks.NewWebhook(w.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.Body, r.Header); err != nil {
		t.Fatalf("standard-webhooks rejects the signature: %v", err)
	}
	// The plain Signature header: hex HMAC-SHA256 of the body.
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(w.Secret, "whsec_"))
	m := hmac.New(sha256.New, key)
	m.Write(r.Body)
	if got := r.Header.Get("Signature"); got != hex.EncodeToString(m.Sum(nil)) {
		t.Fatalf("Signature = %q, want the body's hex HMAC", got)
	}

	var env struct {
		ID        string `json:"id"`
		CreatedAt string `json:"created_at"`
		Account   string `json:"account_id"`
		Data      map[string]any
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatal(err)
	}
	if env.Data["id"] != cus || env.Account != f.acct.ID || env.CreatedAt == "" {
		t.Fatalf("envelope %s", r.Body)
	}
	for name, want := range map[string]string{
		"Content-Type":      "application/json",
		"User-Agent":        "Hookline/test",
		"Idempotency-Key":   env.ID,
		"Webhook-Id":        env.ID,
		"Hookline-Event-Id": env.ID,
		"Hookline-Hop":      "0",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !strings.HasPrefix(r.Header.Get("Hookline-Chain"), "chn_") {
		t.Errorf("Hookline-Chain = %q", r.Header.Get("Hookline-Chain"))
	}

	d := f.waitStatus(t, w.ID, "customer.created", "delivered", 10*time.Second)
	if d.Attempts != 1 || len(d.AttemptLog) != 1 || d.AttemptLog[0].StatusCode != 200 || d.Payload["id"] != env.ID {
		t.Fatalf("delivery log %+v", d)
	}
	a := d.AttemptLog[0]
	if a.RequestHeaders["Webhook-Signature"] != "[redacted]" || a.RequestHeaders["Signature"] != "[redacted]" {
		t.Fatalf("signatures not redacted in the log: %v", a.RequestHeaders)
	}
	// The log shows every header Hookline set, as it was sent, though the
	// stored form leaves out the derived ones (attempt_log.go). Go's
	// transport adds Content-Length and Accept-Encoding after the log.
	for name := range r.Header {
		if name == "Content-Length" || name == "Accept-Encoding" {
			continue
		}
		want := r.Header.Get(name)
		if name == "Webhook-Signature" || name == "Signature" {
			want = "[redacted]"
		}
		if got := a.RequestHeaders[name]; got != want {
			t.Errorf("logged %s = %q, sent %q", name, got, want)
		}
	}
	if len(a.RequestHeaders) != len(r.Header)-2 {
		t.Errorf("logged headers %v, sent %v", a.RequestHeaders, r.Header)
	}
}

func TestDelivery_GETCarriesSignedPayloadInQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	w := f.webhook(t, recv, map[string]any{"method": "GET", "url": recv.URL + "/hook?source=hookline"})
	f.activate(t, w.ID)
	f.createCustomer(t, "ann@example.com")
	reqs := only(recv.WaitFor(t, 2, 10*time.Second), "customer.created")
	if len(reqs) != 1 || reqs[0].Method != "GET" || len(reqs[0].Body) != 0 {
		t.Fatalf("requests %+v", reqs)
	}
	u, _ := url.Parse(reqs[0].URL)
	q := u.Query()
	if q.Get("source") != "hookline" || q.Get("event_type") != "customer.created" {
		t.Fatalf("query %v lost the URL's own parameters or event_type", q)
	}
	payload := []byte(q.Get("payload"))
	wh, _ := standardwebhooks.NewWebhook(w.Secret)
	if err := wh.Verify(payload, reqs[0].Header); err != nil {
		t.Fatalf("GET payload signature: %v", err)
	}
	if q.Get("event_id") != reqs[0].Header.Get("webhook-id") {
		t.Fatal("event_id differs from webhook-id")
	}
}

func TestDelivery_AuthAndStaticHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		auth map[string]any
		want string
	}{
		{"basic", map[string]any{"type": "basic", "username": "zap", "password": "s3cret"}, "Basic " + base64.StdEncoding.EncodeToString([]byte("zap:s3cret"))},
		{"bearer", map[string]any{"type": "bearer", "token": "tok-123"}, "Bearer tok-123"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := receiver.New(t)
			fx := &fixture{API: f.API.With(t), acct: f.acct}
			w := fx.webhook(t, recv, map[string]any{"auth": tc.auth, "headers": map[string]string{"X-Tenant": "studio-1", "X-Api-Key": "k-999"}})
			fx.Do("POST", "/v1/webhooks/"+w.ID+"/test", fx.acct.Key, nil).Want(202)
			r := recv.WaitFor(t, 1, 10*time.Second)[0]
			if got := r.Header.Get("Authorization"); got != tc.want {
				t.Fatalf("Authorization = %q, want %q", got, tc.want)
			}
			if r.Header.Get("X-Tenant") != "studio-1" || r.Header.Get("X-Api-Key") != "k-999" {
				t.Fatalf("static headers missing: %v", r.Header)
			}
			// Secrets never come back after creation.
			got := fx.Do("GET", "/v1/webhooks/"+w.ID, fx.acct.Key, nil).Want(200)
			for _, secret := range []string{"s3cret", "tok-123", "k-999", w.Secret} {
				if strings.Contains(string(got.Body), secret) {
					t.Fatalf("GET webhook shows %q: %s", secret, got.Body)
				}
			}
			d := fx.waitStatus(t, w.ID, "webhook.test", "delivered", 10*time.Second)
			h := d.AttemptLog[0].RequestHeaders
			if h["Authorization"] != "[redacted]" || h["X-Api-Key"] != "[redacted]" || h["X-Tenant"] != "studio-1" {
				t.Fatalf("logged request headers %v", h)
			}
		})
	}
}

func TestDelivery_RetriesOnScheduleThenDelivered(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t, receiver.Statuses(500, 500, 200)...)
	w := f.webhook(t, recv, map[string]any{"retry_schedule": []string{"1s", "1s"}})
	f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
	d := f.waitStatus(t, w.ID, "webhook.test", "delivered", 20*time.Second)
	if d.Attempts != 3 || len(d.AttemptLog) != 3 {
		t.Fatalf("attempts %d (%d logged), want 3", d.Attempts, len(d.AttemptLog))
	}
	for i, want := range []int{500, 500, 200} {
		a := d.AttemptLog[i]
		if a.Number != i+1 || a.StatusCode != want {
			t.Fatalf("attempt %d: number %d status %d, want %d", i, a.Number, a.StatusCode, want)
		}
	}
	if gap := d.AttemptLog[1].StartedAt.Sub(d.AttemptLog[0].StartedAt); gap < 900*time.Millisecond {
		t.Fatalf("retry came %s after the first attempt, want about 1s", gap)
	}
	reqs := recv.Requests()
	if reqs[0].Header.Get("webhook-id") != reqs[2].Header.Get("webhook-id") {
		t.Fatal("retries carry a different webhook-id; receivers could not dedupe")
	}
}

func TestDelivery_FailsAfterLastAttempt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t, receiver.Reply{Status: 500, Body: "database is down"})
	w := f.webhook(t, recv, map[string]any{"retry_schedule": []string{"1s"}})
	f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
	d := f.waitStatus(t, w.ID, "webhook.test", "failed", 20*time.Second)
	if d.Attempts != 2 || d.NextAttemptAt != nil || *d.LastStatusCode != 500 || d.AttemptLog[1].ResponseBody != "database is down" {
		t.Fatalf("failed delivery %+v", d)
	}
	if recv.Count() != 2 {
		t.Fatalf("%d requests, want 2", recv.Count())
	}
}

func TestDelivery_410DeletesSubscription(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t, receiver.Statuses(410)...)
	w := f.webhook(t, recv, map[string]any{"retry_schedule": []string{"1s", "1s"}})
	tst := f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202).Str("id")
	apitest.WaitFor(t, 10*time.Second, "the webhook to be deleted", func() bool {
		return f.Do("GET", "/v1/webhooks/"+w.ID, f.acct.Key, nil).Status == 404
	})
	d := f.delivery(t, tst)
	if d.Status != "failed" || d.Attempts != 1 || d.AttemptLog[0].ErrorClass != "gone" || !strings.Contains(d.AttemptLog[0].Error, "subscription was deleted") {
		t.Fatalf("delivery after 410: %+v", d)
	}
	if recv.Count() != 1 {
		t.Fatalf("%d requests, want 1: a 410 is not retried", recv.Count())
	}
}

func TestDelivery_RetryAfterHonoured(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t, receiver.Reply{Status: 429, Headers: map[string]string{"Retry-After": "3"}}, receiver.Reply{Status: 200})
	w := f.webhook(t, recv, map[string]any{"retry_schedule": []string{"1s"}})
	f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
	d := f.waitStatus(t, w.ID, "webhook.test", "delivered", 20*time.Second)
	if len(d.AttemptLog) != 2 || d.AttemptLog[0].StatusCode != 429 || !strings.Contains(d.AttemptLog[0].Error, "Retry-After 3s") {
		t.Fatalf("attempts %+v", d.AttemptLog)
	}
	if gap := d.AttemptLog[1].StartedAt.Sub(d.AttemptLog[0].StartedAt); gap < 3*time.Second {
		t.Fatalf("second attempt %s after a Retry-After of 3s", gap)
	}
}

func TestDelivery_TimeoutLogged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hold := make(chan struct{})
	recv := receiver.New(t, receiver.Reply{Status: 200, Hold: hold})
	t.Cleanup(func() { close(hold) }) // before the receiver's Close, which waits for held requests
	w := f.webhook(t, recv, map[string]any{"timeout": "1s", "retry_schedule": []string{}})
	f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
	d := f.waitStatus(t, w.ID, "webhook.test", "failed", 15*time.Second)
	a := d.AttemptLog[0]
	if a.ErrorClass != "timeout" || !strings.Contains(a.Error, "1s") || a.StatusCode != 0 {
		t.Fatalf("attempt %+v, want a timeout", a)
	}
}

func TestDelivery_RedirectIsAFailedAttempt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	internal := receiver.New(t)
	recv := receiver.New(t, receiver.Reply{Status: 302, Headers: map[string]string{"Location": internal.URL + "/admin"}})
	w := f.webhook(t, recv, map[string]any{"retry_schedule": []string{}})
	f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
	d := f.waitStatus(t, w.ID, "webhook.test", "failed", 10*time.Second)
	if d.AttemptLog[0].ErrorClass != "redirect" || d.AttemptLog[0].StatusCode != 302 {
		t.Fatalf("attempt %+v", d.AttemptLog[0])
	}
	if internal.Count() != 0 {
		t.Fatal("the redirect was followed")
	}
}

func TestRedeliver(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t, receiver.Statuses(500, 200)...)
	w := f.webhook(t, recv, map[string]any{"retry_schedule": []string{}})
	id := f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202).Str("id")
	f.waitStatus(t, w.ID, "webhook.test", "failed", 10*time.Second)
	f.Do("POST", "/v1/deliveries/"+id+"/redeliver", f.acct.Key, nil).Want(202)
	d := f.waitStatus(t, w.ID, "webhook.test", "delivered", 10*time.Second)
	if d.Attempts != 2 || d.AttemptLog[1].StatusCode != 200 || d.AttemptLog[1].Trigger != "redeliver" || d.AttemptLog[0].Trigger != "test" {
		t.Fatalf("after redeliver: %+v", d)
	}
	f.Do("POST", "/v1/deliveries/dlv_01jd9q6m3v6f0t1r2y3x4z5a6b/redeliver", f.acct.Key, nil).Want(404)
}

func TestRotation_BothSecretsSign(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	w := f.webhook(t, recv, nil)
	var rot struct {
		Secret  string
		Expires *time.Time `json:"previous_secret_expires_at"`
	}
	f.Do("POST", "/v1/webhooks/"+w.ID+"/rotate-secret", f.acct.Key, nil).Want(200).JSON(&rot)
	if rot.Secret == w.Secret || rot.Expires == nil || time.Until(*rot.Expires) < 23*time.Hour {
		t.Fatalf("rotation %+v", rot)
	}
	f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
	r := recv.WaitFor(t, 1, 10*time.Second)[0]
	if n := strings.Count(r.Header.Get("webhook-signature"), "v1,"); n != 2 {
		t.Fatalf("%d v1 signatures during rotation, want 2", n)
	}
	for _, secret := range []string{w.Secret, rot.Secret} {
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Fatalf("signature does not verify with %s…: %v", secret[:10], err)
		}
	}
}

func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	slow, fast, ws, wf := f.slowAndFast(t)
	f.Do("PATCH", "/v1/webhooks/"+ws.ID, f.acct.Key, map[string]any{"active": true}).Want(200)
	for i := 0; i < 60; i++ {
		f.createCustomer(t, "c"+strconv.Itoa(i)+"@example.com")
	}
	f.activate(t, wf.ID)
	f.createCustomer(t, "last@example.com")
	// The fast endpoint gets its test event and the last customer while the
	// slow one holds every request it was given.
	fast.WaitFor(t, 2, 15*time.Second)
	if n := slow.Count(); n > 10 {
		t.Fatalf("the slow endpoint has %d requests in flight, want at most its cap of 10", n)
	}
}

func TestRateLimitSpreadsDeliveries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	w := f.webhook(t, recv, map[string]any{"rate_limit": 1})
	for i := 0; i < 3; i++ {
		f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
	}
	reqs := recv.WaitFor(t, 3, 15*time.Second)
	// At one delivery per second, the third cannot come before two seconds
	// after the first; none was refused or counted as a failed attempt.
	if gap := reqs[2].At.Sub(reqs[0].At); gap < 1900*time.Millisecond {
		t.Fatalf("3 deliveries within %s at rate_limit 1/s", gap)
	}
	var ds []deliveryJSON
	apitest.WaitFor(t, 10*time.Second, "the three deliveries to be recorded", func() bool {
		ds = f.deliveries(t, w.ID, "webhook.test")
		for _, d := range ds {
			if d.Status != "delivered" {
				return false
			}
		}
		return len(ds) == 3
	})
	for _, d := range ds {
		if d.Attempts != 1 {
			t.Fatalf("delivery %+v: a rate-limited wait must not use an attempt", d)
		}
	}
}

// An attempt's start and duration come from the one injected clock: with a
// clock stopped an hour ago, the attempt starts then and takes no time
// (read against the real clock, it would seem to take an hour).
func TestDelivery_DurationUsesTheInjectedClock(t *testing.T) {
	t.Parallel()
	stopped := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	f := newFixture(t, apitest.WithOutbound(func(o *outbound.Options) { o.Now = func() time.Time { return stopped } }))
	recv := receiver.New(t)
	w := f.webhook(t, recv, nil)
	f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
	d := f.waitStatus(t, w.ID, "webhook.test", "delivered", 10*time.Second)
	if len(d.AttemptLog) != 1 {
		t.Fatalf("got %d attempts, want 1", len(d.AttemptLog))
	}
	if a := d.AttemptLog[0]; !a.StartedAt.Equal(stopped) || a.DurationMS != 0 {
		t.Fatalf("got started_at %s and duration_ms %d, want %s and 0", a.StartedAt, a.DurationMS, stopped)
	}
}
