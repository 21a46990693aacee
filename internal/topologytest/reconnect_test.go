package topologytest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/internal/redistest"
)

// After Redis is killed and restarted, a client made by store.Open and an
// Asynq client on it work again at once: the first write after Redis
// answers PING succeeds within 150 ms, while 16 callers kept writing through
// the outage (go-redis's dial circuit breaker, which otherwise probes once a
// second, never opens). During the outage every error is ErrUnavailable.
func TestRedisRestart_ReconnectsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a redis-server")
	}
	n := redistest.StartNode(t, "--appendonly", "yes", "--appendfsync", "always")
	rdb, err := store.Open("redis://" + n.Addr() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	q := asynq.NewClientFromRedisClient(rdb)

	var okAt atomic.Int64 // unix nanos of the latest successful write
	var other atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				var err error
				if i%2 == 0 {
					err = rdb.Incr(ctx, "reconnect:n").Err()
				} else {
					_, err = q.EnqueueContext(ctx, asynq.NewTask("t", nil), asynq.Queue("reconnect"))
				}
				cancel()
				if err == nil {
					okAt.Store(time.Now().UnixNano())
				} else if i%2 == 0 && !errors.Is(err, store.ErrUnavailable) {
					other.Store(err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(300 * time.Millisecond)
	n.Kill()
	time.Sleep(1500 * time.Millisecond) // the outage
	n.Start(t)
	back := time.Now()
	deadline := back.Add(5 * time.Second)
	for okAt.Load() < back.UnixNano() {
		if time.Now().After(deadline) {
			t.Fatal("no write succeeded within 5 s of Redis's return")
		}
		time.Sleep(time.Millisecond)
	}
	gap := time.Unix(0, okAt.Load()).Sub(back)
	t.Logf("first write %d ms after Redis answered PING again", gap.Milliseconds())
	if gap > 150*time.Millisecond {
		t.Fatalf("first write %s after Redis's return, want ≤ 150 ms", gap)
	}
	if err, _ := other.Load().(error); err != nil {
		t.Fatalf("an outage error not marked unavailable: %v", err)
	}
}
