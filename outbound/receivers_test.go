package outbound_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/receiver"
)

// Who an event went to is kept in the event's own record (no key of its
// own per event), and what events recorded before kept in a SET of their
// own is still read.
func TestReceivers_InTheEventRecordAndTheEarlierSet(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	w := f.webhook(t, recv, nil)
	f.activate(t, w.ID)
	f.createCustomer(t, "ann@example.com")
	d := f.waitStatus(t, w.ID, "customer.created", "delivered", 10*time.Second)
	ctx := context.Background()
	srv := f.API.Server
	rs, err := srv.Outbound.Receivers(ctx, f.acct.ID, d.EventID)
	if err != nil || len(rs) != 1 || rs[0].WebhookID != w.ID || rs[0].OwnerID == "" || rs[0].Credential == "" {
		t.Fatalf("got receivers %+v (%v), want webhook %s with its owner and credential", rs, err, w.ID)
	}
	if n, _ := srv.Redis.Exists(ctx, srv.Keys.EventReceivers(f.acct.ID, d.EventID)).Result(); n != 0 {
		t.Fatal("a receivers SET was written beside the event record")
	}

	earlier := srv.Keys.EventReceivers(f.acct.ID, "evt_earlier")
	if err := srv.Redis.SAdd(ctx, earlier, "whk_1 - usr_1", "whk_2 key:key_2 usr_2").Err(); err != nil {
		t.Fatal(err)
	}
	rs, err = srv.Outbound.Receivers(ctx, f.acct.ID, "evt_earlier")
	if err != nil || len(rs) != 2 {
		t.Fatalf("got %+v (%v), want the two receivers of the earlier SET", rs, err)
	}
	for _, r := range rs {
		if (r.WebhookID == "whk_1" && r.Credential != "") || (r.WebhookID == "whk_2" && r.Credential != "key:key_2") {
			t.Fatalf("got %+v", rs)
		}
	}
}
