package inbound_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
)

// E3 (F4), authenticated: a key without read:customer learns no customer's
// fields from an action's answer, and create_customer is no way to learn
// whether an email exists: a taken email answers like a new one (201 with
// an id naming no customer) and creates nothing.
func TestActions_NoCustomerFieldsWithoutReadPermission(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	annID := api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "Ann Secret", "email": "ann@example.com", "notes": "SSN 123-45-6789"}).Want(201).Str("id")

	minimal := func(r *apitest.Resp, wantID string, echo bool) string {
		t.Helper()
		m := r.Map()
		id, _ := m["id"].(string)
		if len(m) != 2 || m["echo"] != echo || !strings.HasPrefix(id, "cus_") || (wantID != "" && id != wantID) {
			t.Fatalf("answer %s, want only {id%s, echo: %v}", r.Body, map[bool]string{true: ": " + wantID}[wantID != ""], echo)
		}
		if strings.Contains(string(r.Body), "Secret") || strings.Contains(string(r.Body), "SSN") {
			t.Fatalf("answer %s shows the customer", r.Body)
		}
		return id
	}
	createOnly := api.Key(acct, perm.CreateCustomer)
	taken := minimal(api.Do("POST", "/v1/actions/create_customer", createOnly, map[string]any{"name": "x", "email": "ANN@example.com"}).Want(201), "", false)
	fresh := minimal(api.Do("POST", "/v1/actions/create_customer", createOnly, map[string]any{"name": "x", "email": "new@example.com"}).Want(201), "", false)
	if taken == annID || taken == fresh {
		t.Fatalf("taken email answered with id %s (Ann is %s, the new customer %s)", taken, annID, fresh)
	}
	var page struct{ Data []struct{ ID, Name string } }
	api.Do("GET", "/v1/customers?email=ann@example.com", acct.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 1 || page.Data[0].Name != "Ann Secret" {
		t.Fatalf("customers with the taken email: %+v", page.Data)
	}
	api.Do("GET", "/v1/customers/"+taken, acct.Key, nil).Want(404)
	// Whoever may read customers anyway still gets the plain answer.
	api.Do("POST", "/v1/actions/create_customer", api.Key(acct, perm.CreateCustomer, perm.ReadCustomer), map[string]any{"name": "x", "email": "ann@example.com"}).Want(422)

	// update_customer as a no-op reveals nothing to an update-only key.
	updateOnly := api.Key(acct, perm.UpdateCustomer)
	minimal(api.Do("POST", "/v1/actions/update_customer", updateOnly, map[string]any{"email": "ann@example.com"}).Want(200), annID, false)
	minimal(api.Do("POST", "/v1/actions/update_customer", updateOnly, map[string]any{"email": "ann@example.com", "phone": "+1 555 0100"}).Want(200), annID, false)
	minimal(api.Do("POST", "/v1/actions/upsert_customer", updateOnly, map[string]any{"email": "ann@example.com"}).Want(200), annID, false)
	minimal(api.Do("POST", "/v1/actions/delete_customer", api.Key(acct, perm.DeleteCustomer), map[string]any{"email": "new@example.com"}).Want(200), fresh, false)
	// Moving a customer to a taken email tells an update-only key nothing
	// either: answered as a success, nothing changed.
	cyID := api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "Cy", "email": "cy@example.com"}).Want(201).Str("id")
	move := map[string]any{"id": cyID, "email": "ann@example.com"}
	minimal(api.Do("POST", "/v1/actions/update_customer", updateOnly, move).Want(200), cyID, false)
	if got := api.Do("GET", "/v1/customers/"+cyID, acct.Key, nil).Want(200).Str("email"); got != "cy@example.com" {
		t.Fatalf("email moved to %s", got)
	}
	api.Do("POST", "/v1/actions/update_customer", api.Key(acct, perm.UpdateCustomer, perm.ReadCustomer), move).Want(422)
	// With read:customer the record comes back, as before.
	r := api.Do("POST", "/v1/actions/update_customer", api.Key(acct, perm.UpdateCustomer, perm.ReadCustomer), map[string]any{"email": "ann@example.com"}).Want(200).Map()
	if r["name"] != "Ann Secret" || r["echo"] != false {
		t.Fatalf("reader's answer %v", r)
	}
}

// F21: /v1/actions keeps numbers exact: publish_event stores the data as
// sent, like POST /v1/events.
func TestActions_PublishKeepsNumbersExact(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	api.Do("POST", "/v1/event-types", acct.Key, map[string]any{"name": "order.paid", "description": "d"}).Want(201)
	body := `{"type": "order.paid", "data": {"id": 12345678901234567890, "amount": 10.50, "tiny": 1e-7}}`
	id := api.Do("POST", "/v1/actions/publish_event", acct.Key, body).Want(202).Str("id")
	raw := string(api.Do("GET", "/v1/events/"+id, acct.Key, nil).Want(200).Body)
	for _, want := range []string{"12345678901234567890", "10.50", "1e-7"} {
		if !strings.Contains(raw, want) {
			t.Fatalf("stored event %s lost %s", raw, want)
		}
	}
	// Trailing data after the object is still malformed.
	api.Do("POST", "/v1/actions/publish_event", acct.Key, `{"type": "order.paid", "data": {}} {}`).Want(400)
}

// E13 (F15): the writer a loop incident is about cannot resolve it, even
// holding subscribe:webhook as the key that owns the echoed subscription;
// nor can another user without manage:webhook. The owner of the tied
// webhook (another key of theirs) or manage:webhook can.
func TestIncidents_PausedWriterCannotResolve(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker()
	acct := api.NewAccount("Studio")
	zapKey := api.Key(acct, perm.SubscribeWebhook, perm.ReadCustomer, perm.CreateCustomer, perm.UpdateCustomer)
	zap := receiver.New(t)
	api.Do("POST", "/v1/zapier/hooks", zapKey, map[string]any{"hookUrl": zap.URL, "event": "customer.created"}).Want(201)
	id := api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "Ann", "email": "ann@example.com"}).Want(201).Str("id")
	zap.WaitFor(t, 1, 10*time.Second)
	for i := 0; i < 3; i++ {
		api.Do("POST", "/v1/actions/create_customer", zapKey, map[string]any{"name": "Ann", "email": "ann@example.com"}).Want(200)
	}
	incs := incidents(t, api, acct.Key)
	if len(incs) != 1 || !incs[0].Paused {
		t.Fatalf("incidents %+v", incs)
	}
	inc := incs[0].ID

	r := api.Do("POST", "/v1/incidents/"+inc+"/resolve", zapKey, nil).Want(403)
	if r.ErrorCode() != "forbidden" || !strings.Contains(string(r.Body), "cannot resolve it") {
		t.Fatalf("paused writer resolving: %s", r.Body)
	}
	if r := api.Do("POST", "/v1/actions/update_customer", zapKey, map[string]any{"id": id, "notes": "x"}).Want(403); r.ErrorCode() != "loop_suspended" {
		t.Fatalf("still paused? %s", r.Body)
	}
	// Another user of the account with subscribe:webhook owns no tied webhook.
	stranger := auth.Principal{AccountID: acct.ID, UserID: "usr_01jd9q6m3v6f0t1r2y3x4z5a6b", Perms: perm.NewSet(perm.SubscribeWebhook),
		Credential: auth.Credential{Kind: auth.KindKey, ID: "key_01jd9q6m3v6f0t1r2y3x4z5a6b"}}
	if _, err := api.Server.Inbound.Resolve(context.Background(), stranger, inc); err == nil || !strings.Contains(err.Error(), "manage:webhook") {
		t.Fatalf("a stranger resolved the incident (%v)", err)
	}
	// The owner of the tied webhook, through another key with only subscribe:webhook, can.
	var res map[string]any
	api.Do("POST", "/v1/incidents/"+inc+"/resolve", api.Key(acct, perm.SubscribeWebhook), nil).Want(200).JSON(&res)
	if res["status"] != "resolved" || res["paused"] != false {
		t.Fatalf("resolved %v", res)
	}
	api.Do("POST", "/v1/actions/update_customer", zapKey, map[string]any{"id": id, "notes": fmt.Sprint("after")}).Want(200)
}
