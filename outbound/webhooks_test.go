package outbound_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound"
)

func TestWebhooks_Validation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	k := api.NewAccount("A").Key
	base := func(over map[string]any) map[string]any {
		b := map[string]any{"name": "n", "url": "http://127.0.0.1:9/x", "events": []string{"customer.created"}}
		for key, v := range over {
			b[key] = v
		}
		return b
	}
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no events", base(map[string]any{"events": []string{}}), "events"},
		{"unknown event", base(map[string]any{"events": []string{"customer.exploded"}}), "events[0]"},
		{"bad method", base(map[string]any{"method": "PUT"}), "method"},
		{"bad url", base(map[string]any{"url": "not a url"}), "url"},
		{"timeout too long", base(map[string]any{"timeout": "90s"}), "timeout"},
		{"bad schedule", base(map[string]any{"retry_schedule": []string{"5m", "soon"}}), "retry_schedule[1]"},
		{"basic without username", base(map[string]any{"auth": map[string]any{"type": "basic"}}), "auth.username"},
		{"bearer without token", base(map[string]any{"auth": map[string]any{"type": "bearer"}}), "auth.token"},
		{"bad auth type", base(map[string]any{"auth": map[string]any{"type": "oauth"}}), "auth.type"},
		{"reserved header", base(map[string]any{"headers": map[string]string{"webhook-signature": "x"}}), "headers.webhook-signature"},
		{"header injection", base(map[string]any{"headers": map[string]string{"X-A": "a\r\nX-B: b"}}), "headers.X-A"},
		{"negative rate", base(map[string]any{"rate_limit": -1}), "rate_limit"},
		{"rate below one a minute", base(map[string]any{"rate_limit": 0.001}), "rate_limit"},
		{"timeout over 30s", base(map[string]any{"timeout": "31s"}), "timeout"},
		{"header control character", base(map[string]any{"headers": map[string]string{"X-A": "a\x01b"}}), "headers.X-A"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := api.With(t).Do("POST", "/v1/webhooks", k, tc.body).Want(422)
			if !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
				t.Fatalf("no field %q in %s", tc.field, r.Body)
			}
		})
	}
	var w struct {
		RetrySchedule []string `json:"retry_schedule"`
		Timeout       string
		Method        string
		Active        bool
	}
	api.Do("POST", "/v1/webhooks", k, base(nil)).Want(201).JSON(&w)
	if strings.Join(w.RetrySchedule, ",") != "5m,10m" || w.Timeout != "15s" || w.Method != "POST" || w.Active {
		t.Fatalf("defaults %+v, want 5m,10m / 15s / POST / inactive", w)
	}
}

func TestWebhooks_PermissionsAndOwnership(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a, b := api.NewAccount("A"), api.NewAccount("B")
	body := map[string]any{"name": "n", "url": "http://127.0.0.1:9/x", "events": []string{"customer.created"}}

	noSub := api.Key(a, perm.ReadCustomer)
	if r := api.Do("POST", "/v1/webhooks", noSub, body).Want(403); r.Map()["error"].(map[string]any)["permission"] != perm.SubscribeWebhook {
		t.Fatalf("403 %s does not name subscribe:webhook", r.Body)
	}
	// Subscribing needs the event's read permission: no siphoning.
	noRead := api.Key(a, perm.SubscribeWebhook)
	if r := api.Do("POST", "/v1/webhooks", noRead, body).Want(403); r.Map()["error"].(map[string]any)["permission"] != perm.ReadCustomer {
		t.Fatalf("403 %s does not name read:customer", r.Body)
	}

	sub := api.Key(a, perm.SubscribeWebhook, perm.ReadCustomer)
	id := api.Do("POST", "/v1/webhooks", sub, body).Want(201).Str("id")
	// Another account: not found, never data.
	for _, m := range []string{"GET", "DELETE"} {
		api.Do(m, "/v1/webhooks/"+id, b.Key, nil).Want(404)
	}
	api.Do("PATCH", "/v1/webhooks/"+id, b.Key, map[string]any{"name": "mine"}).Want(404)
	api.Do("GET", "/v1/webhooks/"+id+"/deliveries", b.Key, nil).Want(404)
	// The owner (any key of the same user) and manage:webhook see it.
	api.Do("GET", "/v1/webhooks/"+id, sub, nil).Want(200)
	api.Do("GET", "/v1/webhooks/"+id, api.Key(a, perm.ManageWebhook), nil).Want(200)
	var page struct{ Data []struct{ ID string } }
	api.Do("GET", "/v1/webhooks", b.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 0 {
		t.Fatal("account B lists account A's webhooks")
	}
	api.Do("DELETE", "/v1/webhooks/"+id, sub, nil).Want(200)
	api.Do("GET", "/v1/webhooks/"+id, sub, nil).Want(404)
}

func TestWebhooks_AutoDisabledAfter20FailedDeliveries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t, receiver.Statuses(500)...)
	w := f.webhook(t, recv, map[string]any{"retry_schedule": []string{}, "events": []string{"customer.created"}})
	f.activate(t, w.ID) // the test delivery does not count toward disabling
	for i := 0; i < 20; i++ {
		f.createCustomer(t, "c"+string(rune('a'+i))+"@example.com")
	}
	var got webhookJSON
	apitest.WaitFor(t, 20*time.Second, "the webhook to be disabled", func() bool {
		f.Do("GET", "/v1/webhooks/"+w.ID, f.acct.Key, nil).Want(200).JSON(&got)
		return !got.Active
	})
	if got.DisabledReason == nil || !strings.Contains(*got.DisabledReason, "last 20 deliveries all failed") {
		t.Fatalf("disabled without a reason: %+v", got)
	}
	before := recv.Count()
	f.createCustomer(t, "after@example.com")
	if n := len(f.deliveries(t, w.ID, "customer.created")); n != 20 {
		t.Fatalf("%d deliveries, want 20: a disabled webhook gets no new ones", n)
	}
	if recv.Count() != before {
		t.Fatal("a disabled webhook received a request")
	}
	// Turning it back on clears the reason.
	f.activate(t, w.ID)
	f.Do("GET", "/v1/webhooks/"+w.ID, f.acct.Key, nil).Want(200).JSON(&got)
	if !got.Active || got.DisabledReason != nil {
		t.Fatalf("re-enabled %+v", got)
	}
}

func TestFanOut_RepeatedEmitDeliversOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	w := f.webhook(t, recv, map[string]any{"events": []string{"customer.created"}})
	f.Do("PATCH", "/v1/webhooks/"+w.ID, f.acct.Key, map[string]any{"active": true}).Want(200)
	recv.WaitFor(t, 1, 10*time.Second) // webhook.test
	f.createCustomer(t, "ann@example.com")
	f.waitStatus(t, w.ID, "customer.created", "delivered", 10*time.Second)

	evs, _, err := f.Server.Events.Recent(context.Background(), f.acct.ID, "customer.created", "", 1)
	if err != nil || len(evs) != 1 {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := f.Server.Outbound.Emit(context.Background(), evs[0]); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.deliveries(t, w.ID, "customer.created")); n != 1 {
		t.Fatalf("%d deliveries after repeated fan-out, want 1", n)
	}
	if n := len(only(recv.Requests(), "customer.created")); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestReconciler_RestoresLostTasks(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, apitest.WithOutbound(func(o *outbound.Options) {
		o.ReconcileEvery, o.ReconcileGrace = 200*time.Millisecond, 500*time.Millisecond
	}))
	f := &fixture{API: api, acct: api.NewAccount("A")}
	recv := receiver.New(t)
	w := f.webhook(t, recv, nil)
	// No worker yet: the test delivery's task waits in the queue. Lose it,
	// as a Redis restart without persistence would.
	f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
	insp := asynq.NewInspectorFromRedisClient(f.Server.Redis)
	if n, err := insp.DeleteAllPendingTasks(outbound.DefaultQueue); err != nil || n != 1 {
		t.Fatalf("deleted %d tasks: %v", n, err)
	}
	api.StartWorker()
	f.waitStatus(t, w.ID, "webhook.test", "delivered", 15*time.Second)
	if recv.Count() != 1 {
		t.Fatalf("%d requests, want 1", recv.Count())
	}
}

func TestDeliveryLog_BoundedPerWebhookAndFiltered(t *testing.T) {
	t.Parallel()
	f := newFixture(t, apitest.WithOutbound(func(o *outbound.Options) { o.MaxPerWebhook = 3 }))
	recv := receiver.New(t)
	w := f.webhook(t, recv, nil)
	f.activate(t, w.ID)
	for i := 0; i < 5; i++ {
		f.createCustomer(t, "c"+string(rune('a'+i))+"@example.com")
	}
	var page struct{ Data []deliveryJSON }
	f.Do("GET", "/v1/webhooks/"+w.ID+"/deliveries?limit=200", f.acct.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 3 {
		t.Fatalf("%d deliveries kept, want the newest 3", len(page.Data))
	}
	f.Do("GET", "/v1/webhooks/"+w.ID+"/deliveries?status=nope", f.acct.Key, nil).Want(422)
	apitest.WaitFor(t, 10*time.Second, "all delivered", func() bool {
		f.Do("GET", "/v1/webhooks/"+w.ID+"/deliveries?status=delivered", f.acct.Key, nil).Want(200).JSON(&page)
		return len(page.Data) == 3
	})
	f.Do("GET", "/v1/webhooks/"+w.ID+"/deliveries?status=failed", f.acct.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 0 {
		t.Fatalf("%d failed deliveries, want 0", len(page.Data))
	}
}

// An event recorded whose fan-out never happened (a crash or a Redis error
// between the two) stays in the event log's outbox; the log's drain loop
// fans it out, and a normal emit leaves the outbox empty.
func TestReconciler_FansOutEventsLeftInTheOutbox(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, apitest.WithEvents(func(o *events.Options) {
		o.DrainEvery, o.DrainGrace = 100*time.Millisecond, 200*time.Millisecond
	}))
	f := &fixture{API: api, acct: api.NewAccount("A")}
	recv := receiver.New(t)
	w := f.webhook(t, recv, map[string]any{"events": []string{"customer.created"}})
	f.Do("PATCH", "/v1/webhooks/"+w.ID, f.acct.Key, map[string]any{"active": true}).Want(200)
	rdb, keys := api.Server.Redis, api.Server.Keys
	ctx := context.Background()

	f.createCustomer(t, "normal@example.com")
	if n, _ := rdb.ZCard(ctx, keys.Outbox(f.acct.ID)).Result(); n != 0 {
		t.Fatalf("outbox holds %d events after a normal emit", n)
	}

	// Record an event as if the process died before fan-out.
	ev := api.Server.Events.New(f.acct.ID, "customer.created", []byte(`{"id":"cus_lost","name":"Lost","email":"lost@example.com"}`), events.Cause{})
	if err := api.Server.Events.Record(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZAdd(ctx, keys.Outbox(f.acct.ID), redis.Z{Score: float64(ev.CreatedAt.UnixMilli()), Member: ev.ID}).Err(); err != nil {
		t.Fatal(err)
	}
	api.StartWorker()
	apitest.WaitFor(t, 15*time.Second, "the lost event to be delivered", func() bool {
		for _, r := range recv.Requests() {
			if r.Header.Get("webhook-id") == ev.ID {
				return true
			}
		}
		return false
	})
	apitest.WaitFor(t, 5*time.Second, "the outbox to empty", func() bool {
		n, _ := rdb.ZCard(ctx, keys.Outbox(f.acct.ID)).Result()
		return n == 0
	})
}
