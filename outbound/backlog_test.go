package outbound_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound"
)

// A backlog deeper than the bounds of the delivery log (per webhook) and
// of the event log (per account) is delivered in full: the bounds trim
// what they show and keep, never a delivery still to be made nor the event
// it needs. Once the backlog is delivered, what the bounds trimmed is
// deleted. Before, the bounds deleted the oldest pending deliveries (and
// their events) outright: with 3 and 3 here, 3 of the 6 events were never
// delivered.
func TestBacklog_DeeperThanTheBoundsIsDeliveredInFull(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, apitest.WithEnv("HOOKLINE_EVENT_MAX", "3"),
		apitest.WithOutbound(func(o *outbound.Options) { o.MaxPerWebhook = 3 }))
	f := &fixture{API: api, acct: api.NewAccount("Studio")}
	recv := receiver.New(t)
	w := f.webhook(t, recv, map[string]any{"events": []string{"customer.created"}})
	f.activate(t, w.ID)
	const n = 6
	for i := 0; i < n; i++ {
		f.createCustomer(t, "c"+strconv.Itoa(i)+"@example.com") // no worker yet: all pending
	}
	if ds := f.deliveries(t, w.ID, "customer.created"); len(ds) != 3 {
		t.Fatalf("the log shows %d deliveries, want its bound, 3", len(ds))
	}

	api.StartWorker()
	got := map[string]bool{}
	apitest.WaitFor(t, 15*time.Second, "every event delivered", func() bool {
		for _, r := range recv.Requests() {
			if r.Header.Get("Hookline-Delivery-Id") != "" {
				got[r.Header.Get("Webhook-Id")] = true
			}
		}
		return len(got) == n+1 // and activation's webhook.test
	})

	// Delivered, the trimmed ones go: records, attempts, events, due entries.
	ctx, rdb, keys := context.Background(), f.Server.Redis, f.Server.Keys
	apitest.WaitFor(t, 10*time.Second, "the trimmed records deleted", func() bool {
		dl, _ := rdb.Keys(ctx, keys.Delivery(f.acct.ID, "dlv_*")).Result()
		ev, _ := rdb.Keys(ctx, keys.Event(f.acct.ID, "evt_*")).Result()
		due, _ := rdb.ZCard(ctx, keys.Due(f.acct.ID)).Result()
		// 3 deliveries of customer.created and webhook.test's kept apart by
		// type are at most 4 records with their attempt lists; 3 events.
		return len(dl) <= 8 && len(ev) == 3 && due == 0
	})
	ds := f.deliveries(t, w.ID, "customer.created")
	if len(ds) != 3 {
		t.Fatalf("the log shows %d deliveries after the backlog, want 3", len(ds))
	}
	for _, d := range ds {
		if d.Status != "delivered" {
			t.Fatalf("kept delivery %s is %s", d.ID, d.Status)
		}
	}
}

// An event counts its deliveries not yet ended (events.OpenField): one when
// created, none (no field) once delivered, one again while a redelivery is
// pending.
// The event log's bound keeps an event while its count is above 0.
func TestBacklog_EventCountsItsOpenDeliveries(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	f := &fixture{API: api, acct: api.NewAccount("Studio")}
	// webhook.test and the first delivery succeed; the redelivery fails and
	// waits an hour for its retry (the first retry of the schedule is
	// spent: the redelivery is the delivery's second attempt).
	recv := receiver.New(t, receiver.Reply{Status: 200}, receiver.Reply{Status: 200}, receiver.Reply{Status: 500})
	w := f.webhook(t, recv, map[string]any{"events": []string{"customer.created"}, "retry_schedule": []string{"1h", "1h"}})
	f.activate(t, w.ID)
	f.createCustomer(t, "ann@example.com")
	ds := f.deliveries(t, w.ID, "customer.created")
	if len(ds) != 1 {
		t.Fatalf("got %d deliveries", len(ds))
	}
	ctx, rdb, keys := context.Background(), f.Server.Redis, f.Server.Keys
	open := func() string {
		v, _ := rdb.HGet(ctx, keys.Event(f.acct.ID, ds[0].EventID), events.OpenField).Result()
		return v
	}
	if got := open(); got != "1" {
		t.Fatalf("open %q before any attempt, want 1", got)
	}
	api.StartWorker()
	f.waitStatus(t, w.ID, "customer.created", "delivered", 10*time.Second)
	if got := open(); got != "" {
		t.Fatalf("open %q once delivered, want the field gone (0)", got)
	}
	f.Do("POST", "/v1/deliveries/"+ds[0].ID+"/redeliver", f.acct.Key, nil).Want(202)
	apitest.WaitFor(t, 10*time.Second, "the redelivery's failed attempt", func() bool {
		return len(f.delivery(t, ds[0].ID).AttemptLog) == 2
	})
	if got := open(); got != "1" {
		t.Fatalf("open %q while the redelivery waits for its retry, want 1", got)
	}
}

// A second run of a generation whose delivery ended already records
// nothing: it would reopen the delivery (status pending) without counting
// it open on its event, and the event could then be deleted while a
// sibling delivery still needs it.
func TestBacklog_AnEndedDeliveryIsNotReopened(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	w := f.webhook(t, recv, map[string]any{"events": []string{"customer.created"}})
	f.activate(t, w.ID)
	f.createCustomer(t, "ann@example.com")
	d := f.waitStatus(t, w.ID, "customer.created", "delivered", 10*time.Second)
	stored, err := outbound.RecordAgain(f.Server.Outbound, f.acct.ID, d.ID)
	if err != nil || stored {
		t.Fatalf("recorded again: %v (%v), want refused", stored, err)
	}
	if got := f.delivery(t, d.ID); got.Status != "delivered" || len(got.AttemptLog) != 1 {
		t.Fatalf("got %s with %d attempts, want delivered with 1", got.Status, len(got.AttemptLog))
	}
}
