package outbound_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound"
)

// batchFixture is a gateway whose worker has not started, with three active
// webhooks on one receiver and a clock the test moves.
type batchFixture struct {
	*fixture
	recv  *receiver.Receiver
	hooks []string
	clock *testClock
	insp  *asynq.Inspector
}

type testClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

func newBatchFixture(t *testing.T) *batchFixture {
	t.Helper()
	clock := &testClock{at: time.Now()}
	api := apitest.New(t, apitest.WithClock(clock.now))
	f := &batchFixture{fixture: &fixture{API: api, acct: api.NewAccount("Studio")}, recv: receiver.New(t), clock: clock,
		insp: asynq.NewInspectorFromRedisClient(api.Server.Redis)}
	for range 3 {
		w := f.webhook(t, f.recv, nil)
		f.activate(t, w.ID)
		f.hooks = append(f.hooks, w.ID)
	}
	return f
}

// oneBatch is the one batch task queued (a test published one event).
func (f *batchFixture) oneBatch(t *testing.T) *asynq.TaskInfo {
	t.Helper()
	batch := f.pendingOfType(t, outbound.TypeDeliverBatch)
	if len(batch) != 1 {
		t.Fatalf("%d batch tasks, want 1", len(batch))
	}
	return batch[0]
}

// pendingOfType lists the delivery queue's pending tasks of one type.
func (f *batchFixture) pendingOfType(t *testing.T, typ string) []*asynq.TaskInfo {
	t.Helper()
	all, err := f.insp.ListPendingTasks(outbound.DefaultQueue, asynq.PageSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	var out []*asynq.TaskInfo
	for _, ti := range all {
		if ti.Type == typ {
			out = append(out, ti)
		}
	}
	return out
}

// One event to three webhooks is one batch task; each delivery still gets
// its own attempt, record and log, with the event id as its webhook-id.
func TestFanOut_OneBatchTaskPerEvent(t *testing.T) {
	t.Parallel()
	f := newBatchFixture(t)
	f.createCustomer(t, "ann@example.com")
	if got := f.pendingOfType(t, outbound.TypeDeliverBatch); len(got) != 1 {
		t.Fatalf("%d batch tasks queued for one event to 3 webhooks, want 1", len(got))
	}
	f.StartWorker()
	reqs := only(f.recv.WaitFor(t, 6, 10*time.Second), "customer.created")
	if len(reqs) != 3 {
		t.Fatalf("%d customer.created requests, want 3 (one per webhook)", len(reqs))
	}
	ids := map[string]bool{}
	for _, r := range reqs {
		ids[r.Header.Get("webhook-id")] = true
	}
	if len(ids) != 1 {
		t.Fatalf("webhook-ids %v: want the one event id on every delivery", ids)
	}
	for _, h := range f.hooks {
		d := f.waitStatus(t, h, "customer.created", "delivered", 10*time.Second)
		if d.Attempts != 1 || len(d.AttemptLog) != 1 || d.AttemptLog[0].Trigger != "schedule" {
			t.Fatalf("delivery %s: %d attempts, log %+v; want one scheduled attempt", d.ID, d.Attempts, d.AttemptLog)
		}
	}
}

// The reconciler leaves a queued batch alone however late it is (a deep
// backlog); once the batch is archived (its attempts could not be run),
// Recover resumes each delivery still pending, once, as its own task.
func TestBatch_ReconcileWaitsRecoverResumes(t *testing.T) {
	t.Parallel()
	f := newBatchFixture(t)
	f.createCustomer(t, "ann@example.com")
	batch := f.oneBatch(t)
	ctx := context.Background()
	svc := f.Server.Outbound
	f.clock.add(10 * time.Minute) // far past ReconcileGrace
	if n, err := svc.Reconcile(ctx); err != nil || n != 0 {
		t.Fatalf("Reconcile with the batch still queued = %d, %v; want 0 (nothing lost)", n, err)
	}
	if err := f.insp.ArchiveTask(outbound.DefaultQueue, batch.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Recover(ctx); err != nil || n != 3 {
		t.Fatalf("Recover of the archived batch = %d, %v; want its 3 deliveries", n, err)
	}
	if n, err := svc.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("second Recover = %d, %v; want 0 (handled archives are deleted)", n, err)
	}
	if n, err := svc.Reconcile(ctx); err != nil || n != 0 {
		t.Fatalf("Reconcile after Recover = %d, %v; want 0 (each delivery has its task)", n, err)
	}
	f.StartWorker()
	reqs := only(f.recv.WaitFor(t, 6, 10*time.Second), "customer.created")
	if len(reqs) != 3 {
		t.Fatalf("%d customer.created requests, want 3", len(reqs))
	}
	for _, h := range f.hooks {
		d := f.waitStatus(t, h, "customer.created", "delivered", 10*time.Second)
		if d.Attempts != 1 {
			t.Fatalf("delivery %s made %d attempts, want 1", d.ID, d.Attempts)
		}
	}
	// Nothing runs twice: no request beyond the six awaited arrives.
	if got := len(only(f.recv.Requests(), "customer.created")); got != 3 {
		t.Fatalf("%d customer.created requests in the end, want 3", got)
	}
}

// A slow webhook's batch items, in flight or waiting for its lease, do not
// hold up the same events' items for a fast webhook of the account: all of
// the fast one's deliveries arrive while the slow one holds every request.
// (Under a steady stream, waiters holding the account's gate delayed the
// fast webhook by seconds: see TestAccountGate_PauseFreesTheSlot and the
// isolation row of make bench.)
func TestBatch_SlowWebhookDoesNotHoldUpAFastOneOnTheSameEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	slow, fast, ws, wf := f.slowAndFast(t)
	f.activate(t, wf.ID)
	fast.WaitFor(t, 1, 10*time.Second) // its activation test
	f.activate(t, ws.ID)
	for i := 0; i < 40; i++ {
		f.createCustomer(t, "c"+strconv.Itoa(i)+"@example.com")
	}
	fast.WaitFor(t, 41, 20*time.Second)
	if n := slow.Count(); n > 10 {
		t.Fatalf("the slow endpoint has %d requests in flight, want at most its cap of 10", n)
	}
}

// eventReads counts reads of one Redis key by HMGET (how the event log
// reads an event record), in single commands and pipelines alike.
type eventReads struct {
	key string
	n   atomic.Int64
}

func (c *eventReads) count(cmd redis.Cmder) {
	if args := cmd.Args(); len(args) > 1 && cmd.Name() == "hmget" && args[1] == c.key {
		c.n.Add(1)
	}
}
func (c *eventReads) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *eventReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.count(cmd); return next(ctx, cmd) }
}
func (c *eventReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.count(cmd)
		}
		return next(ctx, cmds)
	}
}

// A batch reads its event once for all its items (per-event work is paid
// once per event): three webhooks, one read of the event record. Each item
// read it with its own delivery before.
func TestBatch_ReadsItsEventOnce(t *testing.T) {
	t.Parallel()
	f := newBatchFixture(t)
	f.createCustomer(t, "ann@example.com")
	batch := f.oneBatch(t)
	var p struct {
		E string `json:"e"`
	}
	if err := json.Unmarshal(batch.Payload, &p); err != nil {
		t.Fatal(err)
	}
	reads := &eventReads{key: f.Server.Keys.Event(f.acct.ID, p.E)}
	f.Server.Redis.AddHook(reads)
	f.StartWorker()
	// Every read is before its send; the API's reads (a delivery's detail
	// shows the event) are kept out by not asking it.
	if reqs := only(f.recv.WaitFor(t, 6, 10*time.Second), "customer.created"); len(reqs) != 3 {
		t.Fatalf("%d customer.created requests, want 3", len(reqs))
	}
	if n := reads.n.Load(); n != 1 {
		t.Fatalf("the event was read %d times for 3 deliveries, want once", n)
	}
}
