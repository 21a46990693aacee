package ifttt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/integrations/ifttt"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
)

type notification struct {
	Data []map[string]string `json:"data"`
}

func identitiesIn(t *testing.T, r receiver.Request) []string {
	t.Helper()
	var n notification
	if err := json.Unmarshal(r.Body, &n); err != nil {
		t.Fatalf("notification body %q: %v", r.Body, err)
	}
	var out []string
	for _, e := range n.Data {
		if len(e) != 1 || e["trigger_identity"] == "" {
			t.Fatalf("entry %v is not exactly {trigger_identity}", e)
		}
		out = append(out, e["trigger_identity"])
	}
	return out
}

// TestRealtime_RetriesThenDelivers: an event a registered identity would
// return notifies IFTTT through the worker, with the service key and a
// request id; 5xx and 429 (honouring Retry-After) are retried.
func TestRealtime_RetriesThenDelivers(t *testing.T) {
	t.Parallel()
	recv := receiver.New(t,
		receiver.Reply{Status: 500},
		receiver.Reply{Status: 429, Headers: map[string]string{"Retry-After": "1"}},
		receiver.Reply{Status: 200, Body: `{}`},
	)
	api, _ := newAPI(t, recv.URL)
	api.StartWorker()
	c := newClient(t, api)
	token := c.ifttt("POST", "/test/setup", "", nil).Want(200).Data().(map[string]any)["accessToken"].(string)
	c.ifttt("POST", "/triggers/new_customer", token, map[string]any{"trigger_identity": "tid-rt", "triggerFields": map[string]any{}, "limit": 1}).Want(200)
	c.ifttt("POST", "/triggers/new_event", token, map[string]any{"trigger_identity": "tid-updated-only", "triggerFields": map[string]any{"event_type": "customer.updated"}, "limit": 1}).Want(200)

	start := time.Now()
	c.ifttt("POST", "/actions/create_customer", token, map[string]any{"actionFields": map[string]any{"name": "Realtime", "email": "rt@example.com"}}).Want(200)
	reqs := recv.WaitFor(t, 3, 15*time.Second)
	for i, r := range reqs[:3] {
		if r.Method != "POST" || r.URL != "/v1/notifications" || r.Header.Get("IFTTT-Service-Key") != serviceKey ||
			r.Header.Get("X-Request-ID") == "" || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("request %d: %s %s %v", i, r.Method, r.URL, r.Header)
		}
		if got := identitiesIn(t, r); len(got) != 1 || got[0] != "tid-rt" {
			t.Fatalf("request %d notifies %v, want [tid-rt]", i, got)
		}
	}
	if reqs[0].Header.Get("X-Request-ID") == reqs[1].Header.Get("X-Request-ID") {
		t.Fatal("retries reuse the X-Request-ID")
	}
	if gap := reqs[2].At.Sub(reqs[1].At); gap < 900*time.Millisecond {
		t.Fatalf("retry after a 429 with Retry-After: 1 came after %s", gap)
	}
	if time.Since(start) > 15*time.Second {
		t.Fatal("too slow")
	}
}

// TestRealtime_CoalescesAndIsIdempotent: events for one identity within
// the window become one entry; an outbox replay of a handled event does
// not notify again; events the identity does not follow notify nothing.
func TestRealtime_CoalescesAndIsIdempotent(t *testing.T) {
	t.Parallel()
	recv := receiver.New(t)
	api, _ := newAPI(t, recv.URL)
	c := newClient(t, api)
	ctx := context.Background()
	token := c.ifttt("POST", "/test/setup", "", nil).Want(200).Data().(map[string]any)["accessToken"].(string)
	c.ifttt("POST", "/triggers/new_customer", token, map[string]any{"trigger_identity": "tid-a", "triggerFields": map[string]any{}}).Want(200)
	c.ifttt("POST", "/triggers/updated_customer", token, map[string]any{"trigger_identity": "tid-b", "triggerFields": map[string]any{}}).Want(200)

	for i := range 3 {
		c.ifttt("POST", "/actions/create_customer", token, map[string]any{"actionFields": map[string]any{"name": "C", "email": fmt.Sprintf("co%d@example.com", i)}}).Want(200)
	}
	pending := api.Server.Redis.ZRange(ctx, api.Server.Keys.IFTTTPending(), 0, -1).Val()
	if len(pending) != 1 {
		t.Fatalf("pending %v, want one coalesced entry for tid-a", pending)
	}

	// Replaying the newest customer.created event adds nothing new.
	evs, _, err := api.Server.Events.Recent(ctx, pendingAccount(pending[0]), "customer.created", "", 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("recent: %v %v", evs, err)
	}
	api.Server.Redis.Del(ctx, api.Server.Keys.IFTTTPending())
	if err := api.Server.IFTTT.Emit(ctx, evs[0]); err != nil {
		t.Fatal(err)
	}
	if n := api.Server.Redis.ZCard(ctx, api.Server.Keys.IFTTTPending()).Val(); n != 0 {
		t.Fatalf("a replayed event queued %d notifications", n)
	}

	// The worker sends what is pending, then stops.
	if err := api.Server.IFTTT.Emit(ctx, events.Event{ID: "evt_new", Type: "customer.created", AccountID: evs[0].AccountID, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	api.StartWorker()
	reqs := recv.WaitFor(t, 1, 10*time.Second)
	if got := identitiesIn(t, reqs[0]); len(got) != 1 || got[0] != "tid-a" {
		t.Fatalf("notified %v", got)
	}

	// DELETE of the identity stops its notifications.
	c.ifttt("DELETE", "/triggers/new_customer/trigger_identity/tid-a", "", nil).Want(200)
	if err := api.Server.IFTTT.Emit(ctx, events.Event{ID: "evt_after_delete", Type: "customer.created", AccountID: evs[0].AccountID, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if n := api.Server.Redis.ZCard(ctx, api.Server.Keys.IFTTTPending()).Val(); n != 0 {
		t.Fatalf("a deleted identity queued %d notifications", n)
	}
}

// TestRealtime_BatchesAtMost1000: 1,001 identities notified by one event
// go out in two requests.
func TestRealtime_BatchesAtMost1000(t *testing.T) {
	t.Parallel()
	recv := receiver.New(t)
	api, _ := newAPI(t, recv.URL)
	c := newClient(t, api)
	ctx := context.Background()
	token := c.ifttt("POST", "/test/setup", "", nil).Want(200).Data().(map[string]any)["accessToken"].(string)
	for i := range 1001 {
		c.ifttt("POST", "/triggers/new_customer", token, map[string]any{"trigger_identity": fmt.Sprintf("tid-%04d", i), "triggerFields": map[string]any{}, "limit": 0}).Want(200)
	}
	c.ifttt("POST", "/actions/create_customer", token, map[string]any{"actionFields": map[string]any{"name": "Many", "email": "many@example.com"}}).Want(200)
	if n := api.Server.Redis.ZCard(ctx, api.Server.Keys.IFTTTPending()).Val(); n != 1001 {
		t.Fatalf("pending %d, want 1001", n)
	}
	api.StartWorker()
	reqs := recv.WaitFor(t, 2, 10*time.Second)
	seen := map[string]bool{}
	for _, r := range reqs {
		got := identitiesIn(t, r)
		if len(got) > 1000 {
			t.Fatalf("a request carries %d entries", len(got))
		}
		for _, id := range got {
			seen[id] = true
		}
	}
	if len(seen) != 1001 {
		t.Fatalf("notified %d identities, want 1001", len(seen))
	}
}

func pendingAccount(entry string) string {
	for i := range entry {
		if entry[i] == ' ' {
			return entry[:i]
		}
	}
	return entry
}

// TestRealtime_ClaimSurvivesCrash: a process that dies after taking a
// batch from the pending set, before sending it or scheduling its retry,
// loses nothing: once the batch's lease ends, the sweep hands its
// identities back to the pending set and the worker notifies them.
func TestRealtime_ClaimSurvivesCrash(t *testing.T) {
	t.Parallel()
	recv := receiver.New(t)
	api, clk := newAPI(t, recv.URL)
	c := newClient(t, api)
	ctx := context.Background()
	rdb, keys := api.Server.Redis, api.Server.Keys
	token := c.ifttt("POST", "/test/setup", "", nil).Want(200).Data().(map[string]any)["accessToken"].(string)
	c.ifttt("POST", "/triggers/new_customer", token, map[string]any{"trigger_identity": "tid-crash", "triggerFields": map[string]any{}}).Want(200)
	c.ifttt("POST", "/actions/create_customer", token, map[string]any{"actionFields": map[string]any{"name": "Crash", "email": "crash@example.com"}}).Want(200)

	claimed, err := ifttt.ClaimBatch(ctx, api.Server.IFTTT)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %v, %v; want the one pending entry", claimed, err)
	}
	inFlight := func() int64 { return rdb.ZCard(ctx, keys.IFTTTInFlight()).Val() }
	pending := func() int64 { return rdb.ZCard(ctx, keys.IFTTTPending()).Val() }
	if p, f := pending(), inFlight(); p != 0 || f != 1 {
		t.Fatalf("after the claim: pending %d, in flight %d; want 0, 1", p, f)
	}

	// While the lease runs, the sweep leaves the batch to its owner.
	ifttt.Sweep(ctx, api.Server.IFTTT)
	if p, f := pending(), inFlight(); p != 0 || f != 1 {
		t.Fatalf("sweep within the lease: pending %d, in flight %d; want 0, 1", p, f)
	}

	// Past the lease (the default, 2 min), the sweep takes it back.
	clk.Advance(2*time.Minute + time.Second)
	ifttt.Sweep(ctx, api.Server.IFTTT)
	if p, f := pending(), inFlight(); p != 1 || f != 0 {
		t.Fatalf("sweep past the lease: pending %d, in flight %d; want 1, 0", p, f)
	}

	api.StartWorker()
	reqs := recv.WaitFor(t, 1, 10*time.Second)
	if got := identitiesIn(t, reqs[0]); len(got) != 1 || got[0] != "tid-crash" {
		t.Fatalf("notified %v, want [tid-crash]", got)
	}
	apitest.WaitFor(t, 5*time.Second, "the sent batch to be finished", func() bool { return inFlight() == 0 && pending() == 0 })
}
