package events_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// Once an event is recorded, Emit succeeds even when an emitter fails: the
// event stays in the outbox and the drain hands it on to every emitter.
// A caller never answers "failed" for an event that will be delivered.
func TestEmit_RecordedEventSurvivesAFailingEmitter(t *testing.T) {
	rdb := redistest.Client(t)
	keys := store.NewKeys("t")
	now := time.Now()
	log := events.NewLog(rdb, keys, catalog.New(rdb, keys, catalog.Options{}), events.Options{
		DrainGrace: time.Millisecond, Now: func() time.Time { return now },
	})
	var fail atomic.Bool
	fail.Store(true)
	var first, second atomic.Int32
	log.Forward(
		events.EmitterFunc(func(context.Context, events.Event) error { first.Add(1); return nil }),
		events.EmitterFunc(func(context.Context, events.Event) error {
			second.Add(1)
			if fail.Load() {
				return errors.New("realtime is down")
			}
			return nil
		}),
	)
	ctx := context.Background()
	if err := rdb.SAdd(ctx, keys.Accounts(), "acc_1").Err(); err != nil {
		t.Fatal(err)
	}
	ev := log.New("acc_1", "job.done", []byte(`{}`), events.Cause{})
	if err := log.Emit(ctx, ev); err != nil {
		t.Fatalf("Emit after recording: %v, want nil", err)
	}
	if n, _ := rdb.ZCard(ctx, keys.Outbox("acc_1")).Result(); n != 1 {
		t.Fatalf("outbox holds %d, want the event", n)
	}
	fail.Store(false)
	now = now.Add(time.Second)
	if n, err := log.DrainOutbox(ctx); err != nil || n != 1 {
		t.Fatalf("drain: %d, %v", n, err)
	}
	if first.Load() != 2 || second.Load() != 2 {
		t.Fatalf("emitters saw %d and %d calls, want 2 each (idempotent replays)", first.Load(), second.Load())
	}
	if n, _ := rdb.ZCard(ctx, keys.Outbox("acc_1")).Result(); n != 0 {
		t.Fatalf("outbox holds %d after the drain", n)
	}
}
