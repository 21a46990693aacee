package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
)

var whkRe = regexp.MustCompile(`whk_[0-9a-z]{26}`)

// Signing out other sessions revokes their credentials as signing out
// does: a webhook turned on in the other session is turned off.
func TestSessions_EndOthersRevokes(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker()
	owner := newOwner(t, api, "two@example.com")
	recv := receiver.New(t)
	a, b := newBrowser(t, api.URL()), newBrowser(t, api.URL())
	for _, br := range []*browser{a, b} {
		if st := br.login("two@example.com", "password123"); st != 303 {
			t.Fatalf("sign in: got %d", st)
		}
	}
	tok := b.csrf("/webhooks/new")
	st, _, body := b.do("POST", "/webhooks", url.Values{"csrf": {tok}, "name": {"B's"}, "url": {recv.URL + "/b"}, "method": {"POST"},
		"events": {"customer.created"}})
	id := whkRe.FindString(body)
	if st != 201 || id == "" {
		t.Fatalf("create in session B: got %d\n%s", st, body)
	}
	b.do("POST", "/webhooks/"+id+"/active", url.Values{"csrf": {tok}, "active": {"true"}})
	if !api.Do("GET", "/v1/webhooks/"+id, owner.RawKey, nil).Want(200).Map()["active"].(bool) {
		t.Fatal("the webhook did not turn on")
	}

	st, _, body = a.do("POST", "/account/sessions/end-others", url.Values{"csrf": {a.csrf("/account")}})
	if st != 200 || !strings.Contains(body, "1 other session(s) signed out") {
		t.Fatalf("end others: got %d\n%s", st, body)
	}
	if st, h, _ := b.do("GET", "/webhooks", nil); st != 303 || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Fatalf("session B after end-others: got %d %q, want a redirect to /login", st, h.Get("Location"))
	}
	if api.Do("GET", "/v1/webhooks/"+id, owner.RawKey, nil).Want(200).Map()["active"].(bool) {
		t.Fatal("the webhook made in the ended session is still on: its credential was not revoked")
	}
	if st, _, _ := a.do("GET", "/webhooks", nil); st != 200 {
		t.Fatalf("session A after end-others: got %d, want 200", st)
	}
}

// "Retry failed" counts first and sends only once confirmed; the search
// box goes to ids the user can see and nowhere else.
func TestPages_RetryFailedAndSearch(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker()
	owner := newOwner(t, api, "retry@example.com")
	recv := receiver.New(t, receiver.Statuses(500, 500, 200)...)
	var w struct{ ID string }
	api.Do("POST", "/v1/webhooks", owner.RawKey, map[string]any{"name": "Flaky", "url": recv.URL + "/f", "retry_schedule": []string{},
		"events": []string{"customer.created"}}).Want(201).JSON(&w)
	api.Do("PATCH", "/v1/webhooks/"+w.ID, owner.RawKey, map[string]any{"active": true}).Want(200)
	api.Do("POST", "/v1/customers", owner.RawKey, map[string]any{"name": "Ann", "email": "ann@example.com"}).Want(201)
	apitest.WaitFor(t, 10*time.Second, "two failed deliveries", func() bool {
		var page struct{ Data []any }
		api.Do("GET", "/v1/webhooks/"+w.ID+"/deliveries?status=failed", owner.RawKey, nil).Want(200).JSON(&page)
		return len(page.Data) == 2
	})

	br := newBrowser(t, api.URL())
	br.login("retry@example.com", "password123")
	tok := br.csrf("/webhooks/" + w.ID)
	since := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	st, _, body := br.do("POST", "/webhooks/"+w.ID+"/retry-failed", url.Values{"csrf": {tok}, "since": {since}})
	if st != 200 || !strings.Contains(body, "2 failed deliveries") || !strings.Contains(body, "Redeliver 2 now") {
		t.Fatalf("count: got %d\n%s", st, body)
	}
	if n := recv.Count(); n != 2 {
		t.Fatalf("counting sent %d requests, want none beyond the 2 first", n-2)
	}
	st, _, body = br.do("POST", "/webhooks/"+w.ID+"/retry-failed", url.Values{"csrf": {tok}, "since": {since}, "confirm": {"yes"}})
	if st != 200 || !strings.Contains(body, "2 deliveries scheduled again") {
		t.Fatalf("confirm: got %d\n%s", st, body)
	}
	recv.WaitFor(t, 4, 10*time.Second)

	if st, h, _ := br.do("GET", "/search?q="+w.ID, nil); st != 303 || h.Get("Location") != "/webhooks/"+w.ID {
		t.Fatalf("search own webhook: got %d %q", st, h.Get("Location"))
	}
	other := newOwner(t, api, "other@example.com")
	var theirs struct{ ID string }
	api.Do("POST", "/v1/webhooks", other.RawKey, map[string]any{"name": "Theirs", "url": recv.URL + "/t",
		"events": []string{"customer.created"}}).Want(201).JSON(&theirs)
	for _, q := range []string{theirs.ID, "nonsense", "key_00000000000000000000000000"} {
		if st, _, body := br.do("GET", "/search?q="+q, nil); st != 404 || !strings.Contains(body, "not yours to see") {
			t.Fatalf("search %s: got %d, want 404\n%s", q, st, body)
		}
	}
}
