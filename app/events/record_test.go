package events_test

import (
	"context"
	"reflect"
	"testing"

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
