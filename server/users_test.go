package server_test

import (
	"testing"

	"github.com/hookline/hookline/app/auth"

	"github.com/hookline/hookline/internal/apitest"
)

// Users: manage:account lists, adds and changes users; a caller never
// grants more than it holds; a deactivated user's key stops on the next
// request and works again once reactivated.
func TestUsers_AddGrantDeactivate(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")
	admin := api.Key(acct, "manage:account", "subscribe:webhook", "read:customer")

	api.Do("GET", "/v1/users", api.Key(acct, "read:customer"), nil).Want(403)
	r := api.Do("POST", "/v1/users", admin, map[string]any{"name": "Bea", "email": "Bea@Example.com", "password": "password123",
		"permissions": []string{"read:customer", "manage:keys"}}).Want(403)
	if r.Map()["error"].(map[string]any)["permission"] != "manage:keys" {
		t.Fatalf("403 does not name manage:keys: %s", r.Body)
	}
	api.Do("POST", "/v1/users", admin, map[string]any{"name": "Bea", "email": "bea@example.com", "password": "short"}).Want(422)
	u := api.Do("POST", "/v1/users", admin, map[string]any{"name": "Bea", "email": "Bea@Example.com", "password": "password123",
		"permissions": []string{"read:customer", "subscribe:webhook"}}).Want(201)
	id := u.Str("id")
	api.Do("POST", "/v1/users", admin, map[string]any{"name": "Bea2", "email": "bea@example.com", "password": "password123"}).Want(422)

	page := api.Do("GET", "/v1/users", admin, nil).Want(200)
	if n := len(page.Map()["data"].([]any)); n != 2 {
		t.Fatalf("got %d users, want 2", n)
	}

	// Bea's principal (any credential kind) follows her user record.
	ctx := t.Context()
	cred := auth.Credential{Kind: auth.KindSession, ID: "ses_test"}
	api.Do("PATCH", "/v1/users/"+id, admin, map[string]any{"permissions": []string{"manage:webhook"}}).Want(403)
	got := api.Do("PATCH", "/v1/users/"+id, admin, map[string]any{"permissions": []string{"read:customer"}}).Want(200)
	if ps := got.Map()["permissions"].([]any); len(ps) != 1 || ps[0] != "read:customer" {
		t.Fatalf("got permissions %v, want [read:customer]", ps)
	}
	p, err := api.Server.Accounts.Principal(ctx, acct.ID, id, cred, nil)
	if err != nil || p.Has("subscribe:webhook") || !p.Has("read:customer") {
		t.Fatalf("principal after the change: %v %v", p.Perms.List(), err)
	}
	if api.Do("PATCH", "/v1/users/"+id, admin, map[string]any{"active": false}).Want(200).Map()["active"] != false {
		t.Fatal("user still active")
	}
	if _, err := api.Server.Accounts.Principal(ctx, acct.ID, id, cred, nil); err == nil {
		t.Fatal("a deactivated user still gets a principal")
	}
	api.Do("PATCH", "/v1/users/"+id, admin, map[string]any{"active": true}).Want(200)
	if _, err := api.Server.Accounts.Principal(ctx, acct.ID, id, cred, nil); err != nil {
		t.Fatalf("reactivated user: %v", err)
	}
}

// A user cannot deactivate itself, and unknown or malformed ids are 404s.
func TestUsers_SelfAndUnknown(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")
	api.Do("PATCH", "/v1/users/"+acct.UserID, acct.Key, map[string]any{"active": false}).Want(422)
	api.Do("PATCH", "/v1/users/usr_01jd9q6m3v6f0t1r2y3x4z5a6b", acct.Key, map[string]any{"active": false}).Want(404)
	other := api.NewAccount("B")
	api.Do("PATCH", "/v1/users/"+other.UserID, acct.Key, map[string]any{"active": false}).Want(404)
}

// Changing the password needs the current one.
func TestUsers_ChangePassword(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")
	api.Do("POST", "/v1/me/password", acct.Key, map[string]any{"current_password": "nope-nope", "new_password": "brandnew123"}).Want(422)
	api.Do("POST", "/v1/me/password", acct.Key, map[string]any{"current_password": "password123", "new_password": "brandnew123"}).Want(204)
	u, err := api.Server.Accounts.User(t.Context(), acct.ID, acct.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Server.Accounts.CheckPassword(t.Context(), u.Email, "brandnew123"); err != nil {
		t.Fatalf("new password refused: %v", err)
	}
}
