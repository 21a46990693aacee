package securitytest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hookline/hookline/internal/apitest"
)

// resourcesOf is one of each of A's resources, made by A's owner.
type resourcesOf struct {
	customer, customerEmail, webhook, delivery, event, orderEvent string
	keyID, keyRaw, endpoint, zapierHook                           string
}

// snapshot reads every resource back with A's own key, to compare before
// and after the other tenant's attempts.
func snapshot(t *testing.T, a *world, r resourcesOf) map[string][]byte {
	t.Helper()
	s := map[string][]byte{}
	for name, path := range map[string]string{
		"customer":            "/v1/customers/" + r.customer,
		"webhook":             "/v1/webhooks/" + r.webhook,
		"webhook deliveries":  "/v1/webhooks/" + r.webhook + "/deliveries",
		"delivery":            "/v1/deliveries/" + r.delivery,
		"event":               "/v1/events/" + r.event,
		"order event":         "/v1/events/" + r.orderEvent,
		"keys":                "/v1/keys",
		"endpoint":            "/v1/inbound-endpoints/" + r.endpoint,
		"endpoint requests":   "/v1/inbound-endpoints/" + r.endpoint + "/requests",
		"zapier hook":         "/v1/webhooks/" + r.zapierHook,
		"zapier deliveries":   "/v1/webhooks/" + r.zapierHook + "/deliveries",
		"customer by email":   "/v1/customers?email=" + r.customerEmail,
		"customer.created ev": "/v1/events?type=customer.created",
	} {
		s[name] = a.do(t, "GET", path, nil).Want(200).Body
	}
	return s
}

// Account B's owner key (every permission) tries every route that takes an
// id with the ids of A's resources: each answers 404, exactly as for an id
// that never existed, and A's resources are unchanged afterwards.
func TestTenancy_IDSwappingIsNotFound(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a, b := newWorld(t, api, "Tenant A"), newWorld(t, api, "Tenant B")
	var r resourcesOf
	r.customer = a.customer(t)
	r.customerEmail = a.do(t, "GET", "/v1/customers/"+r.customer, nil).Want(200).Str("email")
	r.webhook = a.webhook(t)
	r.delivery = a.delivery(t)
	r.event = a.event(t, "customer.created")
	r.orderEvent = a.event(t, "order.paid")
	r.keyID, r.keyRaw = a.apiKey(t)
	r.endpoint = a.endpoint(t, "create_customer")
	r.zapierHook = a.zapierHook(t)
	before := snapshot(t, a, r)

	tests := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/customers/" + r.customer, nil},
		{"PATCH", "/v1/customers/" + r.customer, map[string]any{"notes": "by B"}},
		{"DELETE", "/v1/customers/" + r.customer, nil},
		{"GET", "/v1/webhooks/" + r.webhook, nil},
		{"PATCH", "/v1/webhooks/" + r.webhook, map[string]any{"url": b.recv.URL + "/siphon", "active": true}},
		{"DELETE", "/v1/webhooks/" + r.webhook, nil},
		{"POST", "/v1/webhooks/" + r.webhook + "/test", nil},
		{"POST", "/v1/webhooks/" + r.webhook + "/rotate-secret", nil},
		{"GET", "/v1/webhooks/" + r.webhook + "/deliveries", nil},
		{"POST", "/v1/webhooks/" + r.webhook + "/redeliver-failed", map[string]any{"since": "2020-01-01T00:00:00Z"}},
		{"GET", "/v1/events/" + r.event + "/deliveries", nil},
		{"PATCH", "/v1/users/" + a.acct.UserID, map[string]any{"active": false}},
		{"GET", "/v1/deliveries/" + r.delivery, nil},
		{"POST", "/v1/deliveries/" + r.delivery + "/redeliver", nil},
		{"GET", "/v1/events/" + r.event, nil},
		{"GET", "/v1/events/" + r.orderEvent, nil},
		{"DELETE", "/v1/keys/" + r.keyID, nil},
		{"GET", "/v1/inbound-endpoints/" + r.endpoint, nil},
		{"PATCH", "/v1/inbound-endpoints/" + r.endpoint, map[string]any{"name": "by B", "paused": true}},
		{"DELETE", "/v1/inbound-endpoints/" + r.endpoint, nil},
		{"POST", "/v1/inbound-endpoints/" + r.endpoint + "/rotate-token", nil},
		{"GET", "/v1/inbound-endpoints/" + r.endpoint + "/requests", nil},
		{"DELETE", "/v1/zapier/hooks/" + r.zapierHook, nil},
		{"GET", "/v1/webhooks/" + r.zapierHook, nil},
		{"DELETE", "/v1/webhooks/" + r.zapierHook, nil},
		{"POST", "/v1/actions/update_customer", map[string]any{"id": r.customer, "notes": "by B"}},
		{"POST", "/v1/actions/delete_customer", map[string]any{"id": r.customer}},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			got := api.With(t).Do(tc.method, tc.path, b.acct.Key, tc.body)
			if got.Status != 404 {
				t.Fatalf("B got %d, want 404; body %s", got.Status, got.Body)
			}
		})
	}
	// Lookups by a value of A's, not an id: B finds nothing.
	for _, q := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/customers?email=" + r.customerEmail, nil},
		{"POST", "/v1/actions/find_customer", map[string]any{"email": r.customerEmail}},
	} {
		var page struct{ Data []any }
		api.With(t).Probe(q.method, q.path, b.acct.Key, q.body).Want(200).JSON(&page)
		if len(page.Data) != 0 {
			t.Errorf("%s %s: B found %v", q.method, q.path, page.Data)
		}
	}

	after := snapshot(t, a, r)
	for name := range before {
		if !bytes.Equal(before[name], after[name]) {
			t.Errorf("A's %s changed:\nbefore %s\nafter  %s", name, before[name], after[name])
		}
	}
	// A's key still works and the webhook got no delivery at B's URL.
	api.Do("GET", "/v1/me", r.keyRaw, nil).Want(200)
	if n := b.recv.Count(); n != 0 {
		t.Fatalf("B's receiver got %d requests", n)
	}
}

// Incidents: B resolving A's open incident is a 404 and the incident stays
// open and pausing.
func TestTenancy_IncidentResolveIsNotFound(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker()
	a, b := newWorld(t, api, "Tenant A"), newWorld(t, api, "Tenant B")
	inc := a.incident(t)
	api.Do("POST", "/v1/incidents/"+inc+"/resolve", b.acct.Key, nil).Want(404)
	var page struct {
		Data []struct {
			ID, Status string
			Paused     bool
		}
	}
	a.do(t, "GET", "/v1/incidents", nil).Want(200).JSON(&page)
	if len(page.Data) != 1 || page.Data[0].ID != inc || page.Data[0].Status != "open" || !page.Data[0].Paused {
		t.Fatalf("A's incident after B's attempt: %+v", page.Data)
	}
	b.do(t, "GET", "/v1/incidents", nil).Want(200).JSON(&page)
	if len(page.Data) != 0 {
		t.Fatalf("B lists A's incidents: %+v", page.Data)
	}
	// The same request with a well-formed id that never existed answers alike.
	api.Do("POST", fmt.Sprintf("/v1/incidents/%s/resolve", "inc_01jd9q6m3v6f0t1r2y3x4z5a6b"), b.acct.Key, nil).Want(404)
}
