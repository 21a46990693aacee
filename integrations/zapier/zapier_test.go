package zapier_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/internal/redistest"
	"github.com/hookline/hookline/outbound"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// fakeZapier lets reverse unsubscribes reach the tests' local receivers,
// which stand in for hooks.zapier.com.
func fakeZapier() apitest.Option {
	return apitest.WithOutbound(func(o *outbound.Options) { o.UnsubscribeHosts = []string{"127.0.0.1"} })
}

func TestSubscribe_PermissionsAndErrors(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a, b := api.NewAccount("A"), api.NewAccount("B")
	hook := "http://127.0.0.1:9/hooks/standard/1/abc"

	tests := []struct {
		name   string
		key    string
		body   any
		status int
		want   string
	}{
		{"no subscribe permission", api.Key(a, perm.ReadCustomer), map[string]any{"hookUrl": hook, "event": "customer.created"}, 403, `"permission":"subscribe:webhook"`},
		{"no read permission", api.Key(a, perm.SubscribeWebhook), map[string]any{"hookUrl": hook, "event": "customer.created"}, 403, `"permission":"read:customer"`},
		{"missing hook url", a.Key, map[string]any{"event": "customer.created"}, 422, `"field":"hookUrl"`},
		{"missing event", a.Key, map[string]any{"hookUrl": hook}, 422, `"field":"event"`},
		{"unknown event", a.Key, map[string]any{"hookUrl": hook, "event": "customer.exploded"}, 422, `"field":"event"`},
		{"bad url", a.Key, map[string]any{"hookUrl": "ftp://x", "event": "customer.created"}, 422, `"field":"hookUrl"`},
		{"malformed", a.Key, `{"hookUrl":`, 400, "malformed JSON"},
		{"targetUrl accepted", a.Key, map[string]any{"targetUrl": hook, "event": "customer.created", "subscriptionData": map[string]any{"zap": 1}}, 201, `"target_url":"` + hook + `"`},
		{"target_url accepted", a.Key, map[string]any{"target_url": hook, "event": "customer.updated"}, 201, `"event":"customer.updated"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := api.With(t).Do("POST", "/v1/zapier/hooks", tc.key, tc.body)
			if r.Status != tc.status || !strings.Contains(string(r.Body), tc.want) {
				t.Fatalf("got %d %s, want %d with %s", r.Status, r.Body, tc.status, tc.want)
			}
		})
	}

	id := api.Do("POST", "/v1/zapier/hooks", a.Key, map[string]any{"hookUrl": hook, "event": "customer.created"}).Want(201).Str("id")
	// It is an active webhook of source zapier.
	w := api.Do("GET", "/v1/webhooks/"+id, a.Key, nil).Want(200).Map()
	if w["source"] != "zapier" || w["active"] != true {
		t.Fatalf("webhook %v", w)
	}
	api.Do("DELETE", "/v1/zapier/hooks/"+id, b.Key, nil).Want(404)
	if r := api.Do("DELETE", "/v1/zapier/hooks/"+id, a.Key, nil).Want(200); r.Map()["deleted"] != true {
		t.Fatalf("body %s", r.Body)
	}
	api.Do("DELETE", "/v1/zapier/hooks/"+id, a.Key, nil).Want(404)
	// A plain API webhook is not Zapier's to delete.
	plain := api.Do("POST", "/v1/webhooks", a.Key, map[string]any{"name": "x", "url": hook, "events": []string{"customer.created"}}).Want(201).Str("id")
	api.Do("DELETE", "/v1/zapier/hooks/"+plain, a.Key, nil).Want(404)
}

func TestSamples(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a := api.NewAccount("A")
	// None yet: the catalog sample, in the envelope shape.
	var got []map[string]any
	api.Do("GET", "/v1/zapier/samples/customer.created", a.Key, nil).Want(200).JSON(&got)
	if len(got) != 1 || got[0]["type"] != "customer.created" || got[0]["account_id"] != a.ID || got[0]["data"].(map[string]any)["email"] == nil {
		t.Fatalf("sample %v", got)
	}
	for i := 0; i < 4; i++ {
		api.Do("POST", "/v1/customers", a.Key, map[string]any{"name": "C", "email": "c" + string(rune('a'+i)) + "@example.com"}).Want(201)
	}
	api.Do("GET", "/v1/zapier/samples/customer.created?limit=3", a.Key, nil).Want(200).JSON(&got)
	if len(got) != 3 || got[0]["data"].(map[string]any)["email"] != "cd@example.com" {
		t.Fatalf("samples %v, want the newest 3, newest first", got)
	}
	keys := func(m map[string]any) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return strings.Join(ks, ",")
	}
	if keys(got[0]) != "account_id,created_at,data,id,type" {
		t.Fatalf("sample keys %s, want the envelope's", keys(got[0]))
	}
	api.Do("GET", "/v1/zapier/samples/customer.created", api.Key(a, perm.SubscribeWebhook), nil).Want(403)
	api.Do("GET", "/v1/zapier/samples/nope.nope", a.Key, nil).Want(404)
	api.Do("GET", "/v1/zapier/samples/customer.created?limit=0", a.Key, nil).Want(422)
}

// Zapier's side of a subscription: two Zaps on one event both fire, a 410
// deletes only its own subscription, and removing one from Hookline's side
// sends DELETE to its hook URL so Zapier pauses the Zap.
func TestDeliveriesAndReverseUnsubscribe(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, apitest.WithEnv("HOOKLINE_RETRY_SCHEDULE", "1s"), fakeZapier())
	api.StartWorker()
	a := api.NewAccount("A")
	zap1 := receiver.New(t)
	zap2 := receiver.New(t, receiver.Statuses(410)...)
	id1 := api.Do("POST", "/v1/zapier/hooks", a.Key, map[string]any{"hookUrl": zap1.URL + "/hooks/1", "event": "customer.created"}).Want(201).Str("id")
	id2 := api.Do("POST", "/v1/zapier/hooks", a.Key, map[string]any{"hookUrl": zap2.URL + "/hooks/2", "event": "customer.created"}).Want(201).Str("id")
	if zap1.Count()+zap2.Count() != 0 {
		t.Fatal("a Zapier subscription got a test ping")
	}
	api.Do("POST", "/v1/customers", a.Key, map[string]any{"name": "Ann", "email": "ann@example.com"}).Want(201)
	zap1.WaitFor(t, 1, 10*time.Second)
	zap2.WaitFor(t, 1, 10*time.Second)
	apitest.WaitFor(t, 10*time.Second, "the 410 to delete the second subscription", func() bool {
		return api.Do("GET", "/v1/webhooks/"+id2, a.Key, nil).Status == 404
	})
	api.Do("GET", "/v1/webhooks/"+id1, a.Key, nil).Want(200)

	// Removed from Hookline's side: Zapier is told.
	api.Do("DELETE", "/v1/webhooks/"+id1, a.Key, nil).Want(200)
	reqs := zap1.WaitFor(t, 2, 10*time.Second)
	if last := reqs[len(reqs)-1]; last.Method != "DELETE" || !strings.HasSuffix(last.URL, "/hooks/1") {
		t.Fatalf("last request to Zapier %s %s, want DELETE of the hook URL", last.Method, last.URL)
	}
	// A 410 is Zapier's own word: no DELETE back.
	if zap2.Count() != 1 {
		t.Fatalf("zap2 got %d requests, want only the delivery", zap2.Count())
	}
}

func TestRevokedKeyRemovesItsZapierSubscriptions(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, fakeZapier())
	a := api.NewAccount("A")
	zap := receiver.New(t)
	r := api.Do("POST", "/v1/keys", a.Key, map[string]any{"name": "Zapier", "permissions": []string{perm.SubscribeWebhook, perm.ReadCustomer}}).Want(201)
	key, keyID := r.Str("api_key"), r.Str("id")
	id := api.Do("POST", "/v1/zapier/hooks", key, map[string]any{"hookUrl": zap.URL + "/hooks/9", "event": "customer.created"}).Want(201).Str("id")
	api.Do("DELETE", "/v1/keys/"+keyID, a.Key, nil).Want(200)
	api.Do("GET", "/v1/webhooks/"+id, a.Key, nil).Want(404)
	reqs := zap.WaitFor(t, 1, 10*time.Second)
	if reqs[0].Method != "DELETE" {
		t.Fatalf("Zapier got %s, want DELETE", reqs[0].Method)
	}
}

// The reverse unsubscribe runs in the background, so removing a
// subscription does not wait on Zapier, and outbound's Close waits for it
// at shutdown, bounded by its context.
func TestReverseUnsubscribe_WaitedForByClose(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, fakeZapier())
	a := api.NewAccount("A")
	hold := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	zap := receiver.New(t, receiver.Reply{Status: 200, Hold: hold})
	t.Cleanup(release) // before the receiver's Close, which waits for held requests
	id := api.Do("POST", "/v1/zapier/hooks", a.Key, map[string]any{"hookUrl": zap.URL + "/hooks/7", "event": "customer.created"}).Want(201).Str("id")

	// Zapier holds its answer; the removal answers anyway.
	api.Do("DELETE", "/v1/webhooks/"+id, a.Key, nil).Want(200)
	if reqs := zap.WaitFor(t, 1, 10*time.Second); reqs[0].Method != "DELETE" {
		t.Fatalf("Zapier got %s, want DELETE", reqs[0].Method)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := api.Server.Outbound.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with the send held: got %v, want context.DeadlineExceeded", err)
	}

	release()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := api.Server.Outbound.Close(ctx2); err != nil {
		t.Fatalf("Close after Zapier answered: got %v, want nil", err)
	}
}

// F18 (probe E15): a Zapier subscription's URL cannot be PATCHed, and the
// reverse DELETE goes only to the hook URL it was created with, even if
// the stored URL was changed (data from before the rule).
func TestF18_ReverseDeleteOnlyToTheOriginalHookURL(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, fakeZapier())
	a := api.NewAccount("A")
	zap, victim := receiver.New(t), receiver.New(t)
	id := api.Do("POST", "/v1/zapier/hooks", a.Key, map[string]any{"hookUrl": zap.URL + "/hooks/1", "event": "customer.created"}).Want(201).Str("id")
	r := api.Do("PATCH", "/v1/webhooks/"+id, a.Key, map[string]any{"url": victim.URL + "/api/users/42"}).Want(422)
	if !strings.Contains(string(r.Body), `"field":"url"`) {
		t.Fatalf("got %s, want a 422 on url", r.Body)
	}
	api.Do("PATCH", "/v1/webhooks/"+id, a.Key, map[string]any{"url": zap.URL + "/hooks/1", "name": "same url"}).Want(200)

	ctx := context.Background()
	if err := api.Server.Redis.HSet(ctx, api.Server.Keys.Webhook(a.ID, id), "url", victim.URL+"/api/users/42").Err(); err != nil {
		t.Fatal(err)
	}
	api.Do("DELETE", "/v1/webhooks/"+id, a.Key, nil).Want(200)
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := api.Server.Outbound.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	if reqs := zap.Requests(); len(reqs) != 1 || reqs[0].Method != "DELETE" || !strings.HasSuffix(reqs[0].URL, "/hooks/1") {
		t.Fatalf("got %+v at Zapier, want one DELETE of the original hook URL", reqs)
	}
	if n := victim.Count(); n != 0 {
		t.Fatalf("got %d requests at the edited URL, want 0", n)
	}
}

// F18: outside the partner's hosts (hooks.zapier.com by default) no
// reverse DELETE is sent at all.
func TestF18_NoReverseDeleteOutsidePartnerHosts(t *testing.T) {
	t.Parallel()
	api := apitest.New(t) // the default: hooks.zapier.com only
	a := api.NewAccount("A")
	recv := receiver.New(t)
	id := api.Do("POST", "/v1/zapier/hooks", a.Key, map[string]any{"hookUrl": recv.URL + "/hooks/1", "event": "customer.created"}).Want(201).Str("id")
	api.Do("DELETE", "/v1/webhooks/"+id, a.Key, nil).Want(200)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := api.Server.Outbound.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := recv.Count(); n != 0 {
		t.Fatalf("got %d requests, want no DELETE to a host that is not Zapier's", n)
	}
}
