package inbound_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/outbound"
)

// quickBooks is a fake of the other system in the seed's two-way sync: it
// receives Hookline's Zapier-style deliveries, keeps its own records with
// a transform, fires its own trigger only on a real change, and calls
// Hookline's actions back through the same connection (API key) without
// forwarding Hookline's headers — as Zapier does.
type quickBooks struct {
	t        *testing.T
	api      *apitest.API
	key      string
	mu       sync.Mutex
	records  map[string]map[string]string // email → fields
	flip     bool
	calls    []int // statuses of its calls to Hookline
	received int
	forward  bool // forward Hookline-Chain/Hop (the headers variant)
	srv      *httptest.Server
}

func newQuickBooks(t *testing.T, api *apitest.API, key string) *quickBooks {
	q := &quickBooks{t: t, api: api, key: key, records: map[string]map[string]string{}}
	q.srv = httptest.NewServer(http.HandlerFunc(q.serve))
	t.Cleanup(q.srv.Close)
	return q
}

// reformat writes phones the QuickBooks way: +1 555-0001.
func reformat(phone string) string {
	var d []byte
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			d = append(d, byte(r))
		}
	}
	if len(d) < 8 {
		return phone
	}
	s := string(d)
	return "+" + s[:len(s)-7] + " " + s[len(s)-7:len(s)-4] + "-" + s[len(s)-4:]
}

func (q *quickBooks) serve(w http.ResponseWriter, r *http.Request) {
	var env struct {
		Type string
		Data map[string]any
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &env); err != nil {
		w.WriteHeader(400)
		return
	}
	q.mu.Lock()
	q.received++
	email := strings.ToLower(fmt.Sprint(env.Data["email"]))
	old, existed := q.records[email]
	// Every write toggles a " (QB)" suffix on the name and reformats the phone.
	q.flip = !q.flip
	name := strings.TrimSuffix(fmt.Sprint(env.Data["name"]), " (QB)")
	if q.flip {
		name += " (QB)"
	}
	rec := map[string]string{"name": name, "email": email, "phone": reformat(fmt.Sprint(env.Data["phone"]))}
	changed := !existed || old["name"] != rec["name"] || old["phone"] != rec["phone"]
	q.records[email] = rec
	q.mu.Unlock()

	if changed {
		// QuickBooks' own trigger fires; the Zap calls Hookline back.
		action := "update_customer"
		if !existed {
			action = "create_customer"
		}
		hdr := []string{}
		if q.forward {
			hdr = append(hdr, "Hookline-Chain", r.Header.Get("Hookline-Chain"), "Hookline-Hop", r.Header.Get("Hookline-Hop"))
		}
		status := q.call(action, rec, hdr...)
		q.mu.Lock()
		q.calls = append(q.calls, status)
		q.mu.Unlock()
	}
	w.WriteHeader(200)
}

// call runs an action on the in-process gateway from the fake's goroutine
// (no testing.T calls here: failures show up as statuses).
func (q *quickBooks) call(action string, input map[string]string, headers ...string) int {
	b, _ := json.Marshal(input)
	req := httptest.NewRequest("POST", "/v1/actions/"+action, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+q.key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := q.api.App.Test(req, -1)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func (q *quickBooks) snapshot() (records, received int, calls []int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.records), q.received, append([]int(nil), q.calls...)
}

// quiet reports whether nothing is queued or running: no further traffic
// can happen.
func quiet(t *testing.T, api *apitest.API) bool {
	insp := asynq.NewInspectorFromRedisClient(api.Server.Redis)
	info, err := insp.GetQueueInfo(outbound.DefaultQueue)
	if err != nil {
		return false
	}
	return info.Pending == 0 && info.Active == 0 && info.Scheduled == 0 && info.Retry == 0
}

type incident struct {
	ID, Kind, Status, Resource string
	Credential                 *string
	Paused                     bool
	Suppressed                 int
	Events, Deliveries         []string
}

func incidents(t *testing.T, api *apitest.API, key string) []incident {
	var page struct{ Data []incident }
	api.Do("GET", "/v1/incidents", key, nil).Want(200).JSON(&page)
	return page.Data
}

func customerEvents(t *testing.T, api *apitest.API, key, customerID string) int {
	var page struct {
		Data []struct {
			Type string
			Data struct{ ID string }
		}
	}
	api.Do("GET", "/v1/events?limit=200", key, nil).Want(200).JSON(&page)
	n := 0
	for _, e := range page.Data {
		if strings.HasPrefix(e.Type, "customer.") && e.Data.ID == customerID {
			n++
		}
	}
	return n
}

// The seed's scenario: create in the app → a Zap creates in QuickBooks →
// QuickBooks' Zap creates back in the app → … Hookline breaks it.
func TestTwoWaySyncLoopIsBroken(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker()
	acct := api.NewAccount("Studio")
	// One Zapier connection: one key for its triggers and its actions.
	zapKey := api.Key(acct, perm.SubscribeWebhook, perm.ReadCustomer, perm.CreateCustomer, perm.UpdateCustomer)
	qb := newQuickBooks(t, api, zapKey)
	for _, ev := range []string{"customer.created", "customer.updated"} {
		api.Do("POST", "/v1/zapier/hooks", zapKey, map[string]any{"hookUrl": qb.srv.URL + "/hooks/" + ev, "event": ev}).Want(201)
	}

	start := time.Now()
	id := api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "Ann", "email": "ann@example.com", "phone": "+15550001"}).Want(201).Str("id")
	apitest.WaitFor(t, 30*time.Second, "QuickBooks to get the customer", func() bool { n, _, _ := qb.snapshot(); return n == 1 })
	api.Do("PATCH", "/v1/customers/"+id, acct.Key, map[string]any{"phone": "+15550002"}).Want(200)

	apitest.WaitFor(t, 30*time.Second-time.Since(start), "an open incident and no traffic left", func() bool {
		incs := incidents(t, api, acct.Key)
		return len(incs) == 1 && incs[0].Status == "open" && quiet(t, api)
	})
	if n := customerEvents(t, api, acct.Key, id); n > 5 {
		t.Fatalf("%d customer.* events for the customer, want at most 5", n)
	}
	var page struct{ Data []struct{ ID string } }
	api.Do("GET", "/v1/customers?email=ann@example.com", acct.Key, nil).Want(200).JSON(&page)
	all := api.Do("GET", "/v1/customers", acct.Key, nil).Want(200)
	if len(page.Data) != 1 || strings.Count(string(all.Body), `"email":"ann@example.com"`) != 1 {
		t.Fatalf("the app holds %s, want exactly one customer for the email", all.Body)
	}
	records, received, calls := qb.snapshot()
	if records != 1 {
		t.Fatalf("QuickBooks holds %d records, want 1", records)
	}
	inc := incidents(t, api, acct.Key)[0]
	if inc.Kind != "loop" || inc.Resource != id || inc.Credential == nil || len(inc.Events) == 0 || len(inc.Deliveries) == 0 {
		t.Fatalf("incident %+v", inc)
	}
	// Nothing is queued or running, so no further traffic can come.
	if !quiet(t, api) {
		t.Fatal("deliveries still queued")
	}
	t.Logf("QuickBooks received %d deliveries and made %d calls %v; incident suppressed %d writes", received, len(calls), calls, inc.Suppressed)
}

// With Hookline's headers forwarded, the chain is counted: a write that
// would be hop 4 answers 508.
func TestHopLimit(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	body := func(email string) map[string]any { return map[string]any{"name": "A", "email": email} }
	r := api.Do("POST", "/v1/actions/create_customer", acct.Key, body("a@example.com"), "Hookline-Chain", "chn_x", "Hookline-Hop", "2").Want(201)
	var evs struct {
		Data []struct{ ID string }
	}
	api.Do("GET", "/v1/events", acct.Key, nil).Want(200).JSON(&evs)
	ev, err := api.Server.Events.Get(t.Context(), acct.ID, evs.Data[0].ID)
	if err != nil || ev.Cause.Chain != "chn_x" || ev.Cause.Hop != 3 {
		t.Fatalf("event cause %+v (%v), want chain chn_x hop 3", ev.Cause, err)
	}
	_ = r
	r = api.Do("POST", "/v1/actions/create_customer", acct.Key, body("b@example.com"), "Hookline-Chain", "chn_x", "Hookline-Hop", "3").Want(508)
	if r.ErrorCode() != "loop_detected" {
		t.Fatalf("code %q", r.ErrorCode())
	}
	// Headers half-present or malformed start a new chain instead.
	api.Do("POST", "/v1/actions/create_customer", acct.Key, body("c@example.com"), "Hookline-Hop", "9").Want(201)
	api.Do("POST", "/v1/actions/create_customer", acct.Key, body("d@example.com"), "Hookline-Chain", "chn_y", "Hookline-Hop", "x").Want(201)
}
