package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
)

func TestEventTypes(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a, b := api.NewAccount("A"), api.NewAccount("B")

	var page struct {
		Data []struct {
			Name, Description, Resource, Permission string
			Sample                                  map[string]any
			BuiltIn                                 bool `json:"built_in"`
		}
	}
	api.Do("GET", "/v1/event-types", a.Key, nil).Want(200).JSON(&page)
	var names []string
	for _, et := range page.Data {
		names = append(names, et.Name)
		if et.Permission != perm.ReadCustomer || et.Resource != "customer" || et.Sample["email"] == nil || !et.BuiltIn {
			t.Fatalf("built-in type %+v lacks resource, permission or sample", et)
		}
	}
	if strings.Join(names, ",") != "customer.created,customer.updated,customer.deleted" {
		t.Fatalf("built-ins = %v", names)
	}

	body := map[string]any{"name": "form.signed", "description": "A release form was signed.", "permission": "read:customer",
		"sample": map[string]any{"form_id": "frm_1", "customer_id": "cus_1"}}
	r := api.Do("POST", "/v1/event-types", a.Key, body).Want(201)
	if r.Str("resource") != "form" || r.Str("permission") != "read:customer" {
		t.Fatalf("created %s", r.Body)
	}
	api.Do("POST", "/v1/event-types", a.Key, body).Want(409)
	api.Do("GET", "/v1/event-types", a.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 4 || page.Data[3].Name != "form.signed" {
		t.Fatalf("account types not listed: %+v", page.Data)
	}
	// Another account does not see it.
	api.Do("GET", "/v1/event-types", b.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 3 {
		t.Fatalf("account B sees %d types, want the 3 built-ins", len(page.Data))
	}

	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"bad name", map[string]any{"name": "FormSigned", "description": "d"}, "name"},
		{"built-in noun", map[string]any{"name": "customer.merged", "description": "d"}, "name"},
		{"unknown permission", map[string]any{"name": "job.done", "description": "d", "permission": "read:jobs"}, "permission"},
		{"sample not object", map[string]any{"name": "job.done", "description": "d", "sample": []int{1}}, "sample"},
		{"missing description", map[string]any{"name": "job.done"}, "description"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertField(t, api.Do("POST", "/v1/event-types", a.Key, tc.body).Want(422), tc.field)
		})
	}
	weak := api.Key(a, perm.SubscribeWebhook)
	api.Do("POST", "/v1/event-types", weak, map[string]any{"name": "job.done", "description": "d"}).Want(403)
}

func TestPublishEvent(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a := api.NewAccount("A")
	api.Do("POST", "/v1/event-types", a.Key, map[string]any{"name": "job.completed", "description": "A job was completed."}).Want(201)

	r := api.Do("POST", "/v1/events", a.Key, map[string]any{"type": "job.completed", "data": map[string]any{"job_id": "J-1"}}).Want(202)
	id := r.Str("id")
	if !strings.HasPrefix(id, "evt_") || r.Str("type") != "job.completed" || r.Str("created_at") == "" {
		t.Fatalf("publish answered %s", r.Body)
	}
	ev := api.Do("GET", "/v1/events/"+id, a.Key, nil).Want(200).Map()
	if ev["account_id"] != a.ID || ev["data"].(map[string]any)["job_id"] != "J-1" {
		t.Fatalf("logged event %v", ev)
	}

	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"unknown type", map[string]any{"type": "job.nope", "data": map[string]any{}}, "type"},
		{"built-in type", map[string]any{"type": "customer.created", "data": map[string]any{}}, "type"},
		{"data not object", map[string]any{"type": "job.completed", "data": "text"}, "data"},
		{"missing data", map[string]any{"type": "job.completed"}, "data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertField(t, api.Do("POST", "/v1/events", a.Key, tc.body).Want(422), tc.field)
		})
	}
	big := `{"type":"job.completed","data":{"blob":"` + strings.Repeat("x", 300<<10) + `"}}`
	if code := api.Do("POST", "/v1/events", a.Key, big).Want(413).ErrorCode(); code != "payload_too_large" {
		t.Fatalf("code %q", code)
	}
	api.Do("POST", "/v1/events", api.Key(a, perm.ReadCustomer), map[string]any{"type": "job.completed", "data": map[string]any{}}).Want(403)
	api.Do("GET", "/v1/events/evt_01jd9q6m3v6f0t1r2y3x4z5a6b", a.Key, nil).Want(404)
}

func TestEventLog_Bounded(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, apitest.WithEnv("HOOKLINE_EVENT_MAX", "5"))
	a := api.NewAccount("A")
	api.Do("POST", "/v1/event-types", a.Key, map[string]any{"name": "job.completed", "description": "d"}).Want(201)
	var last string
	for i := 0; i < 8; i++ {
		last = api.Do("POST", "/v1/events", a.Key, map[string]any{"type": "job.completed", "data": map[string]any{"n": i}}).Want(202).Str("id")
	}
	var page struct {
		Data []struct{ ID string }
	}
	api.Do("GET", "/v1/events?limit=200", a.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 5 || page.Data[0].ID != last {
		t.Fatalf("log holds %d events (newest %v), want the newest 5", len(page.Data), page.Data)
	}
}

// F16 (probe E14): the count bound trimmed only the index; the event
// records stayed until retention. What the log trims is now deleted.
func TestEventLog_F16_TrimDeletesRecords(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, apitest.WithEnv("HOOKLINE_EVENT_MAX", "5"))
	a := api.NewAccount("A")
	for i := 0; i < 20; i++ {
		api.Do("POST", "/v1/customers", a.Key, map[string]any{"name": "C", "email": fmt.Sprintf("c%d@example.com", i)}).Want(201)
	}
	ctx := context.Background()
	n := 0
	iter := api.Server.Redis.Scan(ctx, 0, api.Server.Keys.EventKeyPrefix(a.ID)+"evt_*", 1000).Iterator()
	for iter.Next(ctx) {
		if !strings.HasSuffix(iter.Val(), ":rcv") {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("%d event records kept after 20 events with HOOKLINE_EVENT_MAX=5, want 5", n)
	}
}

// A publish retried with the same Idempotency-Key after the first try
// recorded its event but never stored its answer (the process died, or
// Redis went away before the answer was kept) answers with the first event
// instead of making a second one the receivers could not dedupe. Found by
// the api-crash and redis-always soak scenarios (RELIABILITY.md).
func TestPublish_RetryAfterLostAnswerIsTheSameEvent(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a := api.NewAccount("A")
	api.Do("POST", "/v1/event-types", a.Key, map[string]any{"name": "job.completed", "description": "d"}).Want(201)
	body := map[string]any{"type": "job.completed", "data": map[string]any{"n": 1}}
	first := api.Do("POST", "/v1/events", a.Key, body, "Idempotency-Key", "pub-1").Want(202).Str("id")

	// The answer is lost: no idempotency record, as after a crash.
	ctx := context.Background()
	rdb := api.Server.Redis
	iter := rdb.Scan(ctx, 0, "hl:{"+a.ID+"}:idem:*", 100).Iterator()
	n := 0
	for iter.Next(ctx) {
		if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("deleted %d idempotency records, want the 1 of the publish", n)
	}
	again := api.Do("POST", "/v1/events", a.Key, body, "Idempotency-Key", "pub-1").Want(202).Str("id")
	if again != first {
		t.Fatalf("the retry made event %s, want the first one %s", again, first)
	}
	var page eventPage
	api.Do("GET", "/v1/events?type=job.completed", a.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 1 {
		t.Fatalf("%d events after the retry, want 1", len(page.Data))
	}
	// Without a key, two publishes are two events, as before.
	api.Do("POST", "/v1/events", a.Key, body).Want(202)
	api.Do("GET", "/v1/events?type=job.completed", a.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 2 {
		t.Fatalf("%d events, want 2", len(page.Data))
	}
}
