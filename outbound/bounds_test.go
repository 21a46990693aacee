package outbound_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound"
)

// tarpit accepts connections and never answers until the test ends; it
// returns its base URL.
func tarpit(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// F11 (probe E10): tenant D's webhooks all point at a tarpit, with more
// deliveries than the worker has slots; tenant A's delivery still arrives
// promptly, because D holds at most its in-flight cap. The deadline is
// generous: without the cap, A waits behind D's 30 s requests.
func TestF11_TarpitTenantDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker()
	pit := tarpit(t) // cleaned up before the worker stops, so its stop waits on nothing
	d := &fixture{API: api, acct: api.NewAccount("D")}
	for i := 0; i < 6; i++ {
		var w webhookJSON
		d.Do("POST", "/v1/webhooks", d.acct.Key, map[string]any{"name": "pit", "url": pit + "/" + strconv.Itoa(i),
			"events": []string{"customer.created"}, "timeout": "30s", "retry_schedule": []string{}}).Want(201).JSON(&w)
		d.activate(t, w.ID)
	}
	for i := 0; i < 10; i++ {
		d.createCustomer(t, "d"+strconv.Itoa(i)+"@example.com")
	}

	a := &fixture{API: api, acct: api.NewAccount("A")}
	recv := receiver.New(t)
	w := a.webhook(t, recv, map[string]any{"events": []string{"customer.created"}})
	a.activate(t, w.ID)
	a.createCustomer(t, "a@example.com")
	recv.WaitFor(t, 2, 15*time.Second)
}

// F16 (probe E14, deliveries): the per-webhook bound deletes the trimmed
// deliveries and their attempt lists, not only their index entries.
func TestF16_TrimmedDeliveriesAreDeleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, apitest.WithOutbound(func(o *outbound.Options) { o.MaxPerWebhook = 3 }))
	recv := receiver.New(t)
	w := f.webhook(t, recv, map[string]any{"events": []string{"customer.created"}})
	f.activate(t, w.ID)
	recv.WaitFor(t, 1, 10*time.Second)
	f.waitStatus(t, w.ID, "webhook.test", "delivered", 10*time.Second)
	for i := 0; i < 5; i++ {
		f.createCustomer(t, "c"+strconv.Itoa(i)+"@example.com")
		recv.WaitFor(t, 2+i, 10*time.Second)
	}
	var ids []string
	for _, r := range recv.Requests() {
		ids = append(ids, r.Header.Get("Hookline-Delivery-Id"))
	}
	apitest.WaitFor(t, 10*time.Second, "the newest three to be delivered", func() bool {
		ds := f.deliveries(t, w.ID, "customer.created")
		return len(ds) == 3 && ds[0].Status == "delivered" && ds[1].Status == "delivered" && ds[2].Status == "delivered"
	})
	ctx, rdb, keys := context.Background(), f.Server.Redis, f.Server.Keys
	for i, id := range ids {
		n, err := rdb.Exists(ctx, keys.Delivery(f.acct.ID, id), keys.Attempts(f.acct.ID, id)).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		if i >= len(ids)-3 {
			want = 2 // kept: the record and its attempts
		}
		if n != want {
			t.Errorf("delivery %d (%s): got %d of its record and attempts, want %d", i, id, n, want)
		}
	}
	if n, _ := rdb.ZCard(ctx, keys.Due(f.acct.ID)).Result(); n != 0 {
		t.Errorf("got %d due entries, want 0", n)
	}
}
