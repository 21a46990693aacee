package inbound_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
)

func TestActions_CatalogPermissionsValidation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	var cat struct {
		Data []struct {
			Name, Permission string
			InputFields      []struct {
				Name     string
				Required bool
			} `json:"input_fields"`
		}
	}
	api.Do("GET", "/v1/actions", acct.Key, nil).Want(200).JSON(&cat)
	var names []string
	for _, a := range cat.Data {
		names = append(names, a.Name+"="+a.Permission)
	}
	want := "create_customer=create:customer,update_customer=update:customer,upsert_customer=update:customer,find_customer=read:customer,delete_customer=delete:customer,publish_event=publish:event"
	if strings.Join(names, ",") != want {
		t.Fatalf("catalog %v", names)
	}

	readOnly := api.Key(acct, perm.ReadCustomer)
	for _, tc := range []struct{ action, perm string }{
		{"create_customer", perm.CreateCustomer}, {"update_customer", perm.UpdateCustomer},
		{"delete_customer", perm.DeleteCustomer}, {"publish_event", perm.PublishEvent},
	} {
		r := api.Do("POST", "/v1/actions/"+tc.action, readOnly, map[string]any{"email": "x@example.com"}).Want(403)
		if r.Map()["error"].(map[string]any)["permission"] != tc.perm {
			t.Fatalf("%s: 403 %s does not name %s", tc.action, r.Body, tc.perm)
		}
	}
	for _, tc := range []struct {
		name, action string
		body         any
		status       int
		want         string
	}{
		{"missing email", "create_customer", map[string]any{"name": "A"}, 422, `"field":"email"`},
		{"unknown field", "create_customer", map[string]any{"name": "A", "email": "a@example.com", "vip": true}, 422, `"field":"vip"`},
		{"wrong type", "create_customer", map[string]any{"name": "A", "email": 5}, 422, `"field":"email"`},
		{"update without id or email", "update_customer", map[string]any{"name": "B"}, 422, `"field":"id"`},
		{"update unknown", "update_customer", map[string]any{"email": "nobody@example.com", "name": "B"}, 404, "not_found"},
		{"unknown action", "explode", map[string]any{}, 404, "not_found"},
		{"not an object", "create_customer", `[1]`, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := api.With(t).Do("POST", "/v1/actions/"+tc.action, acct.Key, tc.body)
			if r.Status != tc.status || !strings.Contains(string(r.Body), tc.want) {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tc.status, tc.want)
			}
		})
	}
}

func TestActions_CustomerLifecycle(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	k := api.NewAccount("Studio").Key
	var found struct{ Data []map[string]any }
	api.Do("POST", "/v1/actions/find_customer", k, map[string]any{"email": "ann@example.com"}).Want(200).JSON(&found)
	if len(found.Data) != 0 {
		t.Fatalf("find of nobody: %v", found.Data)
	}
	c := api.Do("POST", "/v1/actions/create_customer", k, map[string]any{"name": "Ann", "email": "Ann@Example.com"}).Want(201).Map()
	if c["echo"] != false || c["id"] == nil {
		t.Fatalf("create %v", c)
	}
	api.Do("POST", "/v1/actions/find_customer", k, map[string]any{"email": "ann@EXAMPLE.com"}).Want(200).JSON(&found)
	if len(found.Data) != 1 {
		t.Fatal("find by email ignoring case failed")
	}
	u := api.Do("POST", "/v1/actions/update_customer", k, map[string]any{"email": "ann@example.com", "phone": "+1 555 0100"}).Want(200).Map()
	if u["phone"] != "+1 555 0100" || u["echo"] != false {
		t.Fatalf("update %v", u)
	}
	// Upsert: an existing email updates (200), a new one creates (201).
	api.Do("POST", "/v1/actions/upsert_customer", k, map[string]any{"email": "ann@example.com", "notes": "vip"}).Want(200)
	api.Do("POST", "/v1/actions/upsert_customer", k, map[string]any{"email": "bob@example.com", "name": "Bob"}).Want(201)
	api.Do("POST", "/v1/actions/delete_customer", k, map[string]any{"email": "bob@example.com"}).Want(200)
	api.Do("POST", "/v1/actions/delete_customer", k, map[string]any{"email": "bob@example.com"}).Want(404)
	// Without a subscription nothing is "sent out": a create of an existing
	// email is the plain duplicate error, not an echo.
	api.Do("POST", "/v1/actions/create_customer", k, map[string]any{"name": "Ann", "email": "ann@example.com"}).Want(422)

	api.Do("POST", "/v1/event-types", k, map[string]any{"name": "job.completed", "description": "d"}).Want(201)
	api.Do("POST", "/v1/actions/publish_event", k, map[string]any{"type": "job.completed", "data": map[string]any{"job": 1}}).Want(202)
	// Idempotency-Key works on actions like on every mutating endpoint.
	a := api.Do("POST", "/v1/actions/create_customer", k, map[string]any{"name": "Cy", "email": "cy@example.com"}, "Idempotency-Key", "f-1").Want(201)
	b := api.Do("POST", "/v1/actions/create_customer", k, map[string]any{"name": "Cy", "email": "cy@example.com"}, "Idempotency-Key", "f-1").Want(201)
	if string(a.Body) != string(b.Body) || b.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("action not replayed")
	}
}

// One-way flows are untouched: a form creating 20 customers, each delivered
// to an SMS webhook; an enrichment system updating each new customer once;
// a real change coming back from the other side.
func TestOneWayFlows_NoSuppressionNoIncident(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker()
	acct := api.NewAccount("Studio")
	sms := receiver.New(t)
	smsID := api.Do("POST", "/v1/webhooks", acct.Key, map[string]any{"name": "sms", "url": sms.URL, "events": []string{"customer.created"}}).Want(201).Str("id")
	api.Do("PATCH", "/v1/webhooks/"+smsID, acct.Key, map[string]any{"active": true}).Want(200)

	formKey := api.Key(acct, perm.CreateCustomer)
	for i := 0; i < 20; i++ {
		r := api.Do("POST", "/v1/actions/create_customer", formKey, map[string]any{"name": fmt.Sprint("Client ", i), "email": fmt.Sprintf("c%d@example.com", i)})
		if r.Want(201).Map()["echo"] != false {
			t.Fatal("a form submission was treated as an echo")
		}
	}
	sms.WaitFor(t, 21, 15*time.Second) // 20 customers + the activation test

	// An enrichment system subscribed to customer.created with its own key
	// adds data once: a real change, applied and emitted.
	crmKey := api.Key(acct, perm.SubscribeWebhook, perm.ReadCustomer, perm.UpdateCustomer)
	crm := receiver.New(t)
	api.Do("POST", "/v1/zapier/hooks", crmKey, map[string]any{"hookUrl": crm.URL, "event": "customer.created"}).Want(201)
	id := api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "Dee", "email": "dee@example.com", "phone": "+15550001"}).Want(201).Str("id")
	crm.WaitFor(t, 1, 10*time.Second)
	r := api.Do("POST", "/v1/actions/update_customer", crmKey, map[string]any{"id": id, "external_id": "crm-77"}).Want(200).Map()
	if r["echo"] != false || r["external_id"] != "crm-77" {
		t.Fatalf("enrichment %v", r)
	}
	// The other side sends a genuinely new value: applied.
	r = api.Do("POST", "/v1/actions/update_customer", crmKey, map[string]any{"id": id, "phone": "+15559999"}).Want(200).Map()
	if r["echo"] != false || r["phone"] != "+15559999" {
		t.Fatalf("real change %v", r)
	}
	var evs struct {
		Data []struct{ Type string }
	}
	api.Do("GET", "/v1/events?type=customer.updated", acct.Key, nil).Want(200).JSON(&evs)
	if len(evs.Data) != 2 {
		t.Fatalf("%d customer.updated events, want 2", len(evs.Data))
	}
	if incs := incidents(t, api, acct.Key); len(incs) != 0 {
		t.Fatalf("incidents in one-way flows: %+v", incs)
	}
}

// Echoes from the subscription's own key are suppressed and counted; past
// the threshold the key is paused until the incident is resolved. The same
// data from an unrelated source is deduplicated without an incident.
func TestBreakerPausesAndResolveResumes(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker()
	acct := api.NewAccount("Studio")
	zapKey := api.Key(acct, perm.SubscribeWebhook, perm.ReadCustomer, perm.CreateCustomer, perm.UpdateCustomer)
	zap := receiver.New(t)
	api.Do("POST", "/v1/zapier/hooks", zapKey, map[string]any{"hookUrl": zap.URL, "event": "customer.created"}).Want(201)
	id := api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "Ann", "email": "ann@example.com"}).Want(201).Str("id")
	zap.WaitFor(t, 1, 10*time.Second)
	echo := map[string]any{"name": "Ann", "email": "ann@example.com"}

	// An unrelated source sending the same data: deduplicated, no incident.
	other := api.Key(acct, perm.CreateCustomer)
	// Without read:customer the echo answers only {id, echo} (F4).
	if r := api.Do("POST", "/v1/actions/create_customer", other, echo).Want(200).Map(); r["echo"] != true || r["id"] != id || len(r) != 2 {
		t.Fatalf("dedupe %v", r)
	}
	if len(incidents(t, api, acct.Key)) != 0 {
		t.Fatal("an unrelated duplicate opened an incident")
	}
	for i := 0; i < 3; i++ {
		api.Do("POST", "/v1/actions/create_customer", zapKey, echo).Want(200)
	}
	r := api.Do("POST", "/v1/actions/update_customer", zapKey, map[string]any{"id": id, "notes": "new"}).Want(403)
	if r.ErrorCode() != "loop_suspended" || !strings.Contains(string(r.Body), "/resolve") {
		t.Fatalf("paused key got %s", r.Body)
	}
	incs := incidents(t, api, acct.Key)
	if len(incs) != 1 || !incs[0].Paused || incs[0].Suppressed != 3 {
		t.Fatalf("incidents %+v", incs)
	}
	// Another key is not paused.
	api.Do("POST", "/v1/actions/update_customer", api.Key(acct, perm.UpdateCustomer), map[string]any{"id": id, "notes": "n"}).Want(200)

	var res map[string]any
	api.Do("POST", "/v1/incidents/"+incs[0].ID+"/resolve", acct.Key, nil).Want(200).JSON(&res)
	if res["status"] != "resolved" || res["paused"] != false {
		t.Fatalf("resolved %v", res)
	}
	api.Do("POST", "/v1/actions/update_customer", zapKey, map[string]any{"id": id, "notes": "after"}).Want(200)
	api.Do("POST", "/v1/incidents/inc_01jd9q6m3v6f0t1r2y3x4z5a6b/resolve", acct.Key, nil).Want(404)
	api.Do("GET", "/v1/incidents", api.Key(acct, perm.ReadCustomer), nil).Want(403)

}

// The core write routes honour the loop guard too: a chain past the limit
// is a 508 and continues otherwise; a paused key cannot write there.
func TestCoreWritesContinueChainsAndRespectTheBreaker(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "A", "email": "a@example.com"}, "Hookline-Chain", "chn_z", "Hookline-Hop", "3").Want(508)
	id := api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "A", "email": "a@example.com"}, "Hookline-Chain", "chn_z", "Hookline-Hop", "1").Want(201).Str("id")
	evs, _, err := api.Server.Events.Recent(t.Context(), acct.ID, "customer.created", "", 1)
	if err != nil || evs[0].Cause.Chain != "chn_z" || evs[0].Cause.Hop != 2 {
		t.Fatalf("cause %+v %v, want chn_z hop 2", evs[0].Cause, err)
	}
	api.Do("PATCH", "/v1/customers/"+id, acct.Key, map[string]any{"notes": "x"}, "Hookline-Chain", "chn_z", "Hookline-Hop", "5").Want(508)

	// Pause a key the way the breaker does, then try the core routes.
	var me struct{ Key struct{ ID string } }
	zapKey := api.Key(acct, perm.CreateCustomer, perm.UpdateCustomer, perm.ReadCustomer)
	api.Do("GET", "/v1/me", zapKey, nil).Want(200).JSON(&me)
	if err := api.Server.Redis.Set(t.Context(), api.Server.Keys.Paused(acct.ID, "key:"+me.Key.ID), "inc_x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if r := api.Do("PATCH", "/v1/customers/"+id, zapKey, map[string]any{"notes": "y"}).Want(403); r.ErrorCode() != "loop_suspended" {
		t.Fatalf("paused key: %s", r.Body)
	}
	api.Do("GET", "/v1/customers/"+id, zapKey, nil).Want(200) // reading is not writing
}
