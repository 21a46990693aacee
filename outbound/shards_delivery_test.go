package outbound_test

import (
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound"
)

// With HOOKLINE_QUEUE_SHARDS, each account's deliveries go to its own shard
// queue, and the worker, which consumes every shard, delivers them.
func TestQueueShards_DeliverFromTheAccountsShard(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, apitest.WithOutbound(func(o *outbound.Options) { o.QueueShards = 4 }))
	api.StartWorker()
	f := &fixture{API: api, acct: api.NewAccount("A")}
	recv := receiver.New(t)
	w := f.webhook(t, recv, map[string]any{"events": []string{"customer.created"}})
	f.activate(t, w.ID)
	f.createCustomer(t, "sharded@example.com")
	f.waitStatus(t, w.ID, "customer.created", "delivered", 15*time.Second)

	queues, err := asynq.NewInspectorFromRedisClient(api.Server.Redis).Queues()
	if err != nil {
		t.Fatal(err)
	}
	want := outbound.QueueFor(f.acct.ID, 4)
	if !slices.Contains(queues, want) || slices.Contains(queues, outbound.DefaultQueue) {
		t.Fatalf("queues %v: want the account's shard %s and not %s", queues, want, outbound.DefaultQueue)
	}
}
