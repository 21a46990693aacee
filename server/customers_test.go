package server_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
)

type customer struct {
	ID, Name, Email, Phone, Birthday, Notes string
	ExternalID                              string `json:"external_id"`
	CreatedAt                               string `json:"created_at"`
	UpdatedAt                               string `json:"updated_at"`
}

type eventPage struct {
	Data []struct {
		ID, Type string
		Data     customer
	}
	NextCursor *string `json:"next_cursor"`
}

func TestCustomers_CRUDEmitsEvents(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	k := acct.Key

	var c customer
	api.Do("POST", "/v1/customers", k, map[string]any{
		"name": " Ann Lee ", "email": "Ann@Example.com", "phone": "+1 555-0001", "birthday": "1990-04-01", "external_id": "qb-1",
	}).Want(201).JSON(&c)
	if c.Name != "Ann Lee" || c.Email != "Ann@Example.com" || !strings.HasPrefix(c.ID, "cus_") || c.CreatedAt == "" {
		t.Fatalf("created %+v", c)
	}

	var got customer
	api.Do("GET", "/v1/customers/"+c.ID, k, nil).Want(200).JSON(&got)
	if got != c {
		t.Fatalf("get = %+v, want %+v", got, c)
	}

	api.Do("PATCH", "/v1/customers/"+c.ID, k, map[string]any{"notes": "prefers mornings"}).Want(200).JSON(&got)
	if got.Notes != "prefers mornings" || got.Name != "Ann Lee" || got.UpdatedAt == c.UpdatedAt && got.Notes == c.Notes {
		t.Fatalf("patched %+v", got)
	}
	// An update that changes nothing emits nothing.
	api.Do("PATCH", "/v1/customers/"+c.ID, k, map[string]any{"notes": "prefers mornings", "name": "Ann Lee"}).Want(200)
	// Clearing an optional field is a change.
	api.Do("PATCH", "/v1/customers/"+c.ID, k, map[string]any{"phone": ""}).Want(200).JSON(&got)
	if got.Phone != "" {
		t.Fatalf("phone not cleared: %+v", got)
	}

	api.Do("DELETE", "/v1/customers/"+c.ID, k, nil).Want(200)
	api.Do("GET", "/v1/customers/"+c.ID, k, nil).Want(404)
	api.Do("PATCH", "/v1/customers/"+c.ID, k, map[string]any{"notes": "x"}).Want(404)
	api.Do("DELETE", "/v1/customers/"+c.ID, k, nil).Want(404)

	var evs eventPage
	api.Do("GET", "/v1/events", k, nil).Want(200).JSON(&evs)
	var types []string
	for _, e := range evs.Data {
		types = append(types, e.Type)
		if e.Data.ID != c.ID {
			t.Fatalf("event %s is about %s, want %s", e.ID, e.Data.ID, c.ID)
		}
	}
	want := "customer.deleted customer.updated customer.updated customer.created"
	if strings.Join(types, " ") != want {
		t.Fatalf("events newest first = %v, want %s", types, want)
	}
	if evs.Data[0].Data.Notes != "prefers mornings" {
		t.Fatalf("deleted event carries %+v, want the customer as it was", evs.Data[0].Data)
	}

	api.Do("GET", "/v1/events?type=customer.updated", k, nil).Want(200).JSON(&evs)
	if len(evs.Data) != 2 {
		t.Fatalf("?type=customer.updated gave %d events, want 2", len(evs.Data))
	}
	api.Do("GET", "/v1/events/"+evs.Data[0].ID, k, nil).Want(200)
	api.Do("GET", "/v1/events?type=nope.nope", k, nil).Want(422)
}

func TestCustomers_Validation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	k := api.NewAccount("A").Key
	tests := []struct {
		name  string
		body  any
		field string
	}{
		{"missing name", map[string]any{"email": "a@example.com"}, "name"},
		{"blank name", map[string]any{"name": "  ", "email": "a@example.com"}, "name"},
		{"missing email", map[string]any{"name": "A"}, "email"},
		{"bad email", map[string]any{"name": "A", "email": "not-an-email"}, "email"},
		{"bad birthday", map[string]any{"name": "A", "email": "a@example.com", "birthday": "1990-13-01"}, "birthday"},
		{"bad phone", map[string]any{"name": "A", "email": "a@example.com", "phone": "call me"}, "phone"},
		{"long name", map[string]any{"name": strings.Repeat("n", 201), "email": "a@example.com"}, "name"},
		{"unknown field", map[string]any{"name": "A", "email": "a@example.com", "id": "cus_x"}, "id"},
		{"wrong type", map[string]any{"name": "A", "email": 7}, "email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertField(t, api.Do("POST", "/v1/customers", k, tc.body).Want(422), tc.field)
		})
	}
	// Nothing was written by any of them.
	var page struct{ Data []customer }
	api.Do("GET", "/v1/customers", k, nil).Want(200).JSON(&page)
	if len(page.Data) != 0 {
		t.Fatalf("invalid creates left %d customers", len(page.Data))
	}
	var c customer
	api.Do("POST", "/v1/customers", k, map[string]any{"name": "A", "email": "a@example.com"}).Want(201).JSON(&c)
	assertField(t, api.Do("PATCH", "/v1/customers/"+c.ID, k, map[string]any{"name": ""}).Want(422), "name")
	assertField(t, api.Do("PATCH", "/v1/customers/"+c.ID, k, map[string]any{"email": "nope"}).Want(422), "email")
}

func TestCustomers_EmailUniqueIgnoringCase(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a, b := api.NewAccount("A"), api.NewAccount("B")
	var c1, c2 customer
	api.Do("POST", "/v1/customers", a.Key, map[string]any{"name": "A", "email": "ann@example.com"}).Want(201).JSON(&c1)
	assertField(t, api.Do("POST", "/v1/customers", a.Key, map[string]any{"name": "B", "email": "ANN@example.COM"}).Want(422), "email")
	// Another account may hold the same email.
	api.Do("POST", "/v1/customers", b.Key, map[string]any{"name": "A", "email": "ann@example.com"}).Want(201)

	// Changing to a taken email fails; the email frees up after a change.
	api.Do("POST", "/v1/customers", a.Key, map[string]any{"name": "B", "email": "bob@example.com"}).Want(201).JSON(&c2)
	assertField(t, api.Do("PATCH", "/v1/customers/"+c2.ID, a.Key, map[string]any{"email": "Ann@example.com"}).Want(422), "email")
	api.Do("PATCH", "/v1/customers/"+c1.ID, a.Key, map[string]any{"email": "ann2@example.com"}).Want(200)
	api.Do("PATCH", "/v1/customers/"+c2.ID, a.Key, map[string]any{"email": "ANN@example.com"}).Want(200)

	var page struct{ Data []customer }
	api.Do("GET", "/v1/customers?email=ann@EXAMPLE.com", a.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 1 || page.Data[0].ID != c2.ID {
		t.Fatalf("?email= found %+v, want %s", page.Data, c2.ID)
	}
	api.Do("GET", "/v1/customers?email=nobody@example.com", a.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 0 {
		t.Fatalf("?email= for nobody found %+v", page.Data)
	}
}

func TestCustomers_ConcurrentCreatesOneWins(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	k := api.NewAccount("A").Key
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := "same@example.com"
			if i%2 == 1 {
				email = "SAME@example.com"
			}
			statuses[i] = api.Do("POST", "/v1/customers", k, map[string]any{"name": fmt.Sprint("c", i), "email": email}).Status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 422:
		default:
			t.Fatalf("unexpected status %d", s)
		}
	}
	if created != 1 {
		t.Fatalf("%d of %d parallel creates with one email won, want exactly 1", created, n)
	}
	var evs eventPage
	api.Do("GET", "/v1/events?type=customer.created", k, nil).Want(200).JSON(&evs)
	if len(evs.Data) != 1 {
		t.Fatalf("%d customer.created events, want 1", len(evs.Data))
	}
}

func TestCustomers_ConcurrentUpdatesAllApply(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	k := api.NewAccount("A").Key
	var c customer
	api.Do("POST", "/v1/customers", k, map[string]any{"name": "A", "email": "a@example.com"}).Want(201).JSON(&c)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			api.Do("PATCH", "/v1/customers/"+c.ID, k, map[string]any{"notes": fmt.Sprint("note ", i)}).Want(200)
		}()
	}
	wg.Wait()
	var evs eventPage
	api.Do("GET", "/v1/events?type=customer.updated", k, nil).Want(200).JSON(&evs)
	if len(evs.Data) != 10 {
		t.Fatalf("%d customer.updated events for 10 distinct updates, want 10", len(evs.Data))
	}
}

func TestCustomers_TenancyAndPermissions(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a, b := api.NewAccount("A"), api.NewAccount("B")
	var c customer
	api.Do("POST", "/v1/customers", a.Key, map[string]any{"name": "A", "email": "a@example.com"}).Want(201).JSON(&c)

	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		var body any
		if m == "PATCH" {
			body = map[string]any{"notes": "mine now"}
		}
		if r := api.Do(m, "/v1/customers/"+c.ID, b.Key, body); r.Status != 404 || strings.Contains(string(r.Body), "a@example.com") {
			t.Fatalf("%s of another account's customer: %d %s, want 404 without data", m, r.Status, r.Body)
		}
	}
	var page struct{ Data []customer }
	api.Do("GET", "/v1/customers", b.Key, nil).Want(200).JSON(&page)
	if len(page.Data) != 0 {
		t.Fatal("account B lists account A's customers")
	}
	var evs eventPage
	api.Do("GET", "/v1/events", b.Key, nil).Want(200).JSON(&evs)
	if len(evs.Data) != 0 {
		t.Fatal("account B sees account A's events")
	}

	readOnly := api.Key(a, perm.ReadCustomer)
	for _, tc := range []struct {
		method, path string
		body         any
		perm         string
	}{
		{"POST", "/v1/customers", map[string]any{"name": "x", "email": "x@example.com"}, perm.CreateCustomer},
		{"PATCH", "/v1/customers/" + c.ID, map[string]any{"notes": "x"}, perm.UpdateCustomer},
		{"DELETE", "/v1/customers/" + c.ID, nil, perm.DeleteCustomer},
	} {
		r := api.Do(tc.method, tc.path, readOnly, tc.body).Want(403)
		if got := r.Map()["error"].(map[string]any)["permission"]; got != tc.perm {
			t.Fatalf("%s %s: 403 names %v, want %s", tc.method, tc.path, got, tc.perm)
		}
	}
	noRead := api.Key(a, perm.CreateCustomer)
	api.Do("GET", "/v1/customers", noRead, nil).Want(403)
	// Events a key may not read are left out of the log.
	api.Do("GET", "/v1/events", noRead, nil).Want(200).JSON(&evs)
	if len(evs.Data) != 0 {
		t.Fatalf("a key without read:customer sees %d customer events", len(evs.Data))
	}
	api.Do("GET", "/v1/events?type=customer.created", noRead, nil).Want(403)
}

func TestCustomers_Paging(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	k := api.NewAccount("A").Key
	var ids []string
	for i := range 7 {
		var c customer
		api.Do("POST", "/v1/customers", k, map[string]any{"name": "c", "email": fmt.Sprintf("c%d@example.com", i)}).Want(201).JSON(&c)
		ids = append([]string{c.ID}, ids...) // newest first
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 4 {
			t.Fatal("paging does not end")
		}
		var page struct {
			Data       []customer
			NextCursor *string `json:"next_cursor"`
		}
		api.Do("GET", "/v1/customers?limit=3"+cursor, k, nil).Want(200).JSON(&page)
		for _, c := range page.Data {
			got = append(got, c.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("paged ids %v, want %v", got, ids)
	}
	assertField(t, api.Do("GET", "/v1/customers?limit=0", k, nil).Want(422), "limit")
	assertField(t, api.Do("GET", "/v1/customers?limit=201", k, nil).Want(422), "limit")
	assertField(t, api.Do("GET", "/v1/customers?cursor=!!", k, nil).Want(422), "cursor")
}
