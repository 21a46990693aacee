package server_test

import (
	"testing"

	"github.com/hookline/hookline/internal/apitest"
)

func TestIdempotency_CreateCustomer(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	k := api.NewAccount("A").Key
	body := map[string]any{"name": "Ann", "email": "ann@example.com"}

	first := api.Do("POST", "/v1/customers", k, body, "Idempotency-Key", "form-42").Want(201)
	again := api.Do("POST", "/v1/customers", k, body, "Idempotency-Key", "form-42").Want(201)
	if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Fatalf("replay: %q %s, want the first response with Idempotent-Replayed", again.Header.Get("Idempotent-Replayed"), again.Body)
	}
	if code := api.Do("POST", "/v1/customers", k, map[string]any{"name": "Bob", "email": "bob@example.com"}, "Idempotency-Key", "form-42").Want(422).ErrorCode(); code != "idempotency_key_reused" {
		t.Fatalf("code %q", code)
	}
	var evs eventPage
	api.Do("GET", "/v1/events", k, nil).Want(200).JSON(&evs)
	if len(evs.Data) != 1 {
		t.Fatalf("%d events after a replayed create, want 1", len(evs.Data))
	}
	// The same key on another endpoint is another request: 422, not a replay.
	api.Do("POST", "/v1/keys", k, map[string]any{"name": "x", "permissions": []string{"read:customer"}}, "Idempotency-Key", "form-42").Want(422)
	// A replayed delete answers like the first.
	id := first.Str("id")
	api.Do("DELETE", "/v1/customers/"+id, k, nil, "Idempotency-Key", "del-1").Want(200)
	api.Do("DELETE", "/v1/customers/"+id, k, nil, "Idempotency-Key", "del-1").Want(200)
	api.Do("DELETE", "/v1/customers/"+id, k, nil).Want(404)
}
