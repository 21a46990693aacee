package outbound_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
)

// userKey adds a user to the fixture's account with perms (plus
// manage:keys, to mint its own key) and returns a key of that user.
func (f *fixture) userKey(t *testing.T, perms ...string) string {
	t.Helper()
	email := fmt.Sprintf("u%d@example.com", time.Now().UnixNano())
	uid := f.Do("POST", "/v1/users", f.acct.Key, map[string]any{"name": "Bea", "email": email, "password": "password123",
		"permissions": append(perms, "manage:keys")}).Want(201).Str("id")
	ctx := context.Background()
	p, err := f.Server.Accounts.Principal(ctx, f.acct.ID, uid, auth.Credential{Kind: auth.KindSession, ID: "ses_test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, raw, err := f.Server.Accounts.CreateKey(ctx, p, accounts.NewKey{Name: "bea", Permissions: perms})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestWebhookList_CarriesTheLatestDelivery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	busy := f.webhook(t, recv, nil)
	quiet := f.webhook(t, recv, nil)
	f.activate(t, busy.ID)
	f.waitStatus(t, busy.ID, "webhook.test", "delivered", 10*time.Second)
	f.createCustomer(t, "ann@example.com")
	d := f.waitStatus(t, busy.ID, "customer.created", "delivered", 10*time.Second)

	var page struct {
		Data []struct {
			ID     string
			Latest *deliveryJSON `json:"latest_delivery"`
		}
	}
	f.Do("GET", "/v1/webhooks", f.acct.Key, nil).Want(200).JSON(&page)
	got := map[string]*deliveryJSON{}
	for _, w := range page.Data {
		got[w.ID] = w.Latest
	}
	if l := got[busy.ID]; l == nil || l.ID != d.ID || l.Status != "delivered" || *l.LastStatusCode != 200 {
		t.Fatalf("latest of the busy webhook: got %+v, want %s delivered 200", l, d.ID)
	}
	if l, ok := got[quiet.ID]; !ok || l != nil {
		t.Fatalf("latest of the quiet webhook: got %+v (listed %v), want null", l, ok)
	}
}

func TestEventDeliveries_OnlyThoseTheCallerMaySee(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t)
	mine := f.webhook(t, recv, nil)
	f.activate(t, mine.ID)
	bea := f.userKey(t, "subscribe:webhook", "read:customer")
	var theirs webhookJSON
	f.Do("POST", "/v1/webhooks", bea, map[string]any{"name": "bea", "url": recv.URL + "/bea", "events": []string{"customer.created"}}).
		Want(201).JSON(&theirs)
	f.Do("PATCH", "/v1/webhooks/"+theirs.ID, bea, map[string]any{"active": true}).Want(200)
	f.createCustomer(t, "ann@example.com")
	d := f.waitStatus(t, mine.ID, "customer.created", "delivered", 10*time.Second)

	list := func(key string, want int) []deliveryJSON {
		t.Helper()
		var page struct{ Data []deliveryJSON }
		f.Do("GET", "/v1/events/"+d.EventID+"/deliveries", key, nil).Want(want).JSON(&page)
		return page.Data
	}
	if all := list(f.acct.Key, 200); len(all) != 2 {
		t.Fatalf("the owner (manage:webhook) sees %d deliveries, want 2", len(all))
	}
	if own := list(bea, 200); len(own) != 1 || own[0].ID == d.ID {
		t.Fatalf("bea sees %+v, want only the delivery to her own webhook", own)
	}
	list(f.Key(f.acct, "manage:webhook"), 404) // cannot read customer events
	list(f.Key(f.acct, "read:customer"), 403)  // no webhook permission at all
	list(f.acct.Key, 200)
	f.Do("GET", "/v1/events/evt_01jd9q6m3v6f0t1r2y3x4z5a6b/deliveries", f.acct.Key, nil).Want(404)
}

func TestRedeliverFailed_CountsThenRedelivers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recv := receiver.New(t, receiver.Statuses(200, 500, 500, 500, 200)...) // the activation test, three customers, then fixed
	w := f.webhook(t, recv, map[string]any{"retry_schedule": []string{}})
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	f.activate(t, w.ID)
	f.waitStatus(t, w.ID, "webhook.test", "delivered", 10*time.Second)
	for i := 0; i < 3; i++ {
		f.createCustomer(t, fmt.Sprintf("c%d@example.com", i))
		recv.WaitFor(t, 2+i, 10*time.Second)
	}
	path := "/v1/webhooks/" + w.ID + "/redeliver-failed"
	var failed []deliveryJSON
	waitFor := func(what string, cond func() bool) { t.Helper(); apitest.WaitFor(t, 10*time.Second, what, cond) }
	waitFor("three failed deliveries", func() bool {
		var page struct{ Data []deliveryJSON }
		f.Do("GET", "/v1/webhooks/"+w.ID+"/deliveries?status=failed", f.acct.Key, nil).Want(200).JSON(&page)
		failed = page.Data
		return len(failed) == 3
	})

	type result struct {
		Matched, Redelivered, Skipped int
		More                          bool
		DryRun                        bool `json:"dry_run"`
	}
	var r result
	f.Do("POST", path, f.acct.Key, map[string]any{"since": since, "dry_run": true}).Want(200).JSON(&r)
	if r != (result{Matched: 3, DryRun: true}) {
		t.Fatalf("dry run: got %+v, want 3 matched and nothing sent", r)
	}
	f.Do("POST", path, f.acct.Key, map[string]any{"since": since, "event_type": "customer.updated", "dry_run": true}).Want(200).JSON(&r)
	if r.Matched != 0 {
		t.Fatalf("event type filter: got %d matched, want 0", r.Matched)
	}
	f.Do("POST", path, f.acct.Key, map[string]any{"since": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "dry_run": true}).Want(200).JSON(&r)
	if r.Matched != 0 {
		t.Fatalf("since the future: got %d matched, want 0", r.Matched)
	}
	f.Do("POST", path, f.acct.Key, map[string]any{"status": "pending"}).Want(422)
	f.Do("POST", path, f.Key(f.acct, "manage:webhook"), map[string]any{"since": since, "dry_run": true}).Want(403) // no read:customer
	f.Do("POST", path, f.userKey(t, "subscribe:webhook", "read:customer"), map[string]any{"since": since}).Want(404)
	if n := recv.Count(); n != 4 {
		t.Fatalf("the receiver got %d requests before the real run, want 4", n)
	}

	f.Do("POST", path, f.acct.Key, map[string]any{"since": since}).Want(202).JSON(&r)
	if r != (result{Matched: 3, Redelivered: 3}) {
		t.Fatalf("run: got %+v, want 3 redelivered", r)
	}
	waitFor("every delivery delivered", func() bool {
		for _, d := range failed {
			if f.delivery(t, d.ID).Status != "delivered" {
				return false
			}
		}
		return true
	})
	if d := f.delivery(t, failed[0].ID); d.Attempts != 2 || d.AttemptLog[1].Trigger != "redeliver" {
		t.Fatalf("after the bulk redelivery: %+v", d)
	}
}
