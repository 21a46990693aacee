package securitytest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
)

// world is one account and the resources its owner makes, through the API
// as a client would. Every maker returns a fresh resource, so a test that
// deletes or changes one never disturbs another.
type world struct {
	api  *apitest.API
	acct apitest.Account
	recv *receiver.Receiver
	keys map[string]string // sorted permissions → raw key of the owner
}

var seq atomic.Int64

func next() int64 { return seq.Add(1) }

// newWorld makes an account with the owner's key, a receiver for its
// webhooks and its own event type "order.paid" (readable with
// subscribe:webhook, the default).
func newWorld(t *testing.T, api *apitest.API, name string) *world {
	t.Helper()
	w := &world{api: api, acct: api.NewAccount(name), recv: receiver.New(t), keys: map[string]string{}}
	w.do(t, "POST", "/v1/event-types", map[string]any{"name": "order.paid", "description": "An order was paid.",
		"sample": map[string]any{"order_id": "o1"}}).Want(201)
	return w
}

// do sends a request with the owner's key. Setting up and reading back are
// not what this corpus tests, so their answers are not held against
// docs/openapi.yaml here (each package's own tests do that); the requests
// under test go through apitest's Do.
func (w *world) do(t *testing.T, method, path string, body any) *apitest.Resp {
	t.Helper()
	return w.api.With(t).Probe(method, path, w.acct.Key, body)
}

// key returns a key of the owner holding exactly perms, minted once per set.
func (w *world) key(t *testing.T, perms ...string) string {
	t.Helper()
	perms = slices.Clone(perms)
	slices.Sort(perms)
	id := strings.Join(perms, ",")
	if k, ok := w.keys[id]; ok {
		return k
	}
	// apitest.Key names the key after its permissions, too long for all of them.
	_, k, err := w.api.Server.Accounts.AdminCreateKey(context.Background(), w.acct.ID,
		accounts.NewKey{Name: fmt.Sprintf("perms %d", next()), Permissions: perms})
	if err != nil {
		t.Fatalf("create key %v: %v", perms, err)
	}
	w.keys[id] = k
	return k
}

func (w *world) customer(t *testing.T) string {
	t.Helper()
	return w.do(t, "POST", "/v1/customers", map[string]any{"name": "Ann Secret", "email": fmt.Sprintf("ann%d@example.com", next()),
		"notes": "vip"}).Want(201).Str("id")
}

func (w *world) customerEmail(t *testing.T) string {
	t.Helper()
	id := w.customer(t)
	return w.do(t, "GET", "/v1/customers/"+id, nil).Want(200).Str("email")
}

// webhook makes an inactive webhook on customer.created.
func (w *world) webhook(t *testing.T) string {
	t.Helper()
	return w.do(t, "POST", "/v1/webhooks", map[string]any{"name": "hook", "url": w.recv.URL + "/hook",
		"events": []string{"customer.created"}, "retry_schedule": []string{}}).Want(201).Str("id")
}

// delivery makes an active webhook, a customer, and returns the delivery of
// that customer.created event (its payload carries the customer).
func (w *world) delivery(t *testing.T) string {
	t.Helper()
	whk := w.webhook(t)
	w.do(t, "PATCH", "/v1/webhooks/"+whk, map[string]any{"active": true}).Want(200)
	w.customer(t)
	var page struct{ Data []struct{ ID string } }
	w.do(t, "GET", "/v1/webhooks/"+whk+"/deliveries?event_type=customer.created", nil).Want(200).JSON(&page)
	if len(page.Data) != 1 {
		t.Fatalf("%d customer.created deliveries, want 1", len(page.Data))
	}
	return page.Data[0].ID
}

// event returns the id of the newest event of a type.
func (w *world) event(t *testing.T, typ string) string {
	t.Helper()
	switch typ {
	case "customer.created":
		w.customer(t)
	case "order.paid":
		w.do(t, "POST", "/v1/events", map[string]any{"type": "order.paid", "data": map[string]any{"order_id": next()}}).Want(202)
	}
	var page struct{ Data []struct{ ID string } }
	w.do(t, "GET", "/v1/events?type="+typ+"&limit=1", nil).Want(200).JSON(&page)
	if len(page.Data) == 0 {
		t.Fatalf("no %s event", typ)
	}
	return page.Data[0].ID
}

// apiKey makes a key through the API and returns its id and raw value.
func (w *world) apiKey(t *testing.T) (id, raw string) {
	t.Helper()
	r := w.do(t, "POST", "/v1/keys", map[string]any{"name": fmt.Sprintf("k%d", next()), "permissions": []string{perm.ReadCustomer}}).Want(201)
	return r.Str("id"), r.Str("api_key")
}

// endpoint makes an inbound endpoint running action.
func (w *world) endpoint(t *testing.T, action string) string {
	t.Helper()
	return w.do(t, "POST", "/v1/inbound-endpoints", map[string]any{"name": "form", "action": action}).Want(201).Str("id")
}

// zapierHook subscribes a Zapier-style hook to customer.created.
func (w *world) zapierHook(t *testing.T) string {
	t.Helper()
	return w.do(t, "POST", "/v1/zapier/hooks", map[string]any{"hookUrl": w.recv.URL + fmt.Sprintf("/zap%d", next()),
		"event": "customer.created"}).Want(201).Str("id")
}

// incident opens a loop incident the way a two-way sync does: a
// Zapier-style key subscribes to customer.created, receives a customer and
// writes the same state back three times, which pauses it. Needs the worker.
func (w *world) incident(t *testing.T) string {
	t.Helper()
	id, _ := w.incidentBy(t)
	return id
}

// incidentBy is incident, returning also the paused writer's key.
func (w *world) incidentBy(t *testing.T) (id, writer string) {
	t.Helper()
	zapKey := w.api.With(t).Key(w.acct, perm.SubscribeWebhook, perm.ReadCustomer, perm.CreateCustomer)
	zap := receiver.New(t)
	w.api.With(t).Probe("POST", "/v1/zapier/hooks", zapKey, map[string]any{"hookUrl": zap.URL, "event": "customer.created"}).Want(201)
	state := map[string]any{"name": "Loop", "email": fmt.Sprintf("loop%d@example.com", next())}
	w.do(t, "POST", "/v1/customers", state).Want(201)
	zap.WaitFor(t, 1, 10*time.Second)
	for i := 0; i < 3; i++ {
		w.api.With(t).Probe("POST", "/v1/actions/create_customer", zapKey, state).Want(200)
	}
	var page struct {
		Data []struct {
			ID, Status string
			Paused     bool
		}
	}
	w.do(t, "GET", "/v1/incidents", nil).Want(200).JSON(&page)
	if len(page.Data) == 0 || page.Data[0].Status != "open" || !page.Data[0].Paused {
		t.Fatalf("no open incident after three echoes: %+v", page.Data)
	}
	return page.Data[0].ID, zapKey
}

// errorPermission returns error.permission of an error body.
func errorPermission(r *apitest.Resp) string {
	var b struct {
		Error struct {
			Permission string `json:"permission"`
		} `json:"error"`
	}
	r.JSON(&b)
	return b.Error.Permission
}

// without returns every permission except those in drop.
func without(drop ...string) []string {
	var out []string
	for _, p := range perm.All {
		if !slices.Contains(drop, p) {
			out = append(out, p)
		}
	}
	return out
}
