package events_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/internal/redistest"
)

// An event's cause survives the record, in the packed field; and an event
// recorded before the cause was packed (chain, hop, credential and
// resource as fields of their own) still reads with its cause.
func TestRecord_CauseReadsInBothStoredForms(t *testing.T) {
	rdb := redistest.Client(t)
	keys := store.NewKeys("t")
	log := events.NewLog(rdb, keys, catalog.New(rdb, keys, catalog.Options{}), events.Options{})
	ctx := context.Background()
	cause := events.Cause{Chain: "chn_1", Hop: 3, Credential: "key:key_1", Resource: "cus_1"}
	ev := log.New("acc_1", "customer.updated", []byte(`{"id":"cus_1"}`), cause)
	if err := log.Record(ctx, ev); err != nil {
		t.Fatal(err)
	}
	got, err := log.Get(ctx, "acc_1", ev.ID)
	if err != nil || !reflect.DeepEqual(got.Cause, cause) {
		t.Fatalf("got %+v (%v), want cause %+v", got.Cause, err, cause)
	}
	fields, _ := rdb.HKeys(ctx, keys.Event("acc_1", ev.ID)).Result()
	if len(fields) != 2 {
		t.Fatalf("stored fields %v, want envelope and cause", fields)
	}

	// The earlier form, written as it was.
	env, _ := rdb.HGet(ctx, keys.Event("acc_1", ev.ID), "envelope").Result()
	old := keys.Event("acc_1", "evt_old")
	if err := rdb.HSet(ctx, old, "envelope", env, "chain", "chn_2", "hop", "1", "credential", "endpoint:inb_1", "resource", "").Err(); err != nil {
		t.Fatal(err)
	}
	got, err = log.Get(ctx, "acc_1", "evt_old")
	want := events.Cause{Chain: "chn_2", Hop: 1, Credential: "endpoint:inb_1"}
	if err != nil || !reflect.DeepEqual(got.Cause, want) {
		t.Fatalf("earlier form: got %+v (%v), want %+v", got.Cause, err, want)
	}
}

// An event still in the outbox (its hand-on failed) is not deleted by the
// log's count bound: the drain hands it on later. Trimmed meanwhile, it
// leaves the listing, and its record goes once it was handed on with no
// delivery open. Before, the bound deleted it and the drain dropped it as
// past retention.
func TestTrim_KeepsAnEventStillInTheOutbox(t *testing.T) {
	rdb := redistest.Client(t)
	keys := store.NewKeys("t")
	now := time.Now()
	log := events.NewLog(rdb, keys, catalog.New(rdb, keys, catalog.Options{}), events.Options{
		Max: 2, DrainGrace: time.Millisecond, Now: func() time.Time { return now },
	})
	var handed []string
	fail := true
	log.Forward(events.EmitterFunc(func(_ context.Context, ev events.Event) error {
		if fail {
			return errors.New("fan-out is down")
		}
		handed = append(handed, ev.ID)
		return nil
	}))
	ctx := context.Background()
	if err := rdb.SAdd(ctx, keys.Accounts(), "acc_1").Err(); err != nil {
		t.Fatal(err)
	}
	first := log.New("acc_1", "job.done", []byte(`{}`), events.Cause{})
	if err := log.Emit(ctx, first); err != nil {
		t.Fatal(err)
	}
	fail = false
	for i := 0; i < 3; i++ {
		now = now.Add(time.Millisecond)
		if err := log.Emit(ctx, log.New("acc_1", "job.done", []byte(`{}`), events.Cause{})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := log.Get(ctx, "acc_1", first.ID); err != nil {
		t.Fatalf("the event waiting in the outbox was deleted by the bound: %v", err)
	}
	now = now.Add(time.Second)
	if n, err := log.DrainOutbox(ctx); err != nil || n != 1 || handed[len(handed)-1] != first.ID {
		t.Fatalf("drain: %d, %v, handed %v; want the first event handed on", n, err, handed)
	}
	if _, err := log.Get(ctx, "acc_1", first.ID); !apperr.IsCode(err, apperr.CodeNotFound) {
		t.Fatalf("after its hand-on (no delivery open) the trimmed record is still there: %v", err)
	}
}

// A retention under a second still keeps the event for that long: the
// record's expiry is in milliseconds, not seconds rounded down to 0 (an
// EXPIRE of 0 deletes the key at once).
func TestRecord_SubSecondRetentionKeepsTheEvent(t *testing.T) {
	rdb := redistest.Client(t)
	keys := store.NewKeys("t")
	log := events.NewLog(rdb, keys, catalog.New(rdb, keys, catalog.Options{}), events.Options{Retention: 500 * time.Millisecond})
	ctx := context.Background()
	ev := log.New("acc_1", "job.done", []byte(`{}`), events.Cause{})
	if err := log.Record(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := log.Get(ctx, "acc_1", ev.ID); err != nil {
		t.Fatalf("read right after recording with a 500 ms retention: %v", err)
	}
	if ttl, _ := rdb.PTTL(ctx, keys.Event("acc_1", ev.ID)).Result(); ttl <= 0 || ttl > 500*time.Millisecond {
		t.Fatalf("record's TTL %v, want up to 500 ms", ttl)
	}
}
