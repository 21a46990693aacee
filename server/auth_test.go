package server_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
)

func TestAuth_Rejections(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")

	revoked := api.Key(acct, perm.ReadCustomer)
	var keyID string
	{
		var me struct {
			Key struct{ ID string } `json:"key"`
		}
		api.Do("GET", "/v1/me", revoked, nil).Want(200).JSON(&me)
		keyID = me.Key.ID
		api.Do("DELETE", "/v1/keys/"+keyID, acct.Key, nil).Want(200)
	}

	tests := []struct {
		name    string
		headers []string
		want    int
	}{
		{"no key", nil, 401},
		{"bad key", []string{"Authorization", "Bearer hk_nothing"}, 401},
		{"not a key", []string{"Authorization", "Bearer abc"}, 401},
		{"wrong scheme", []string{"Authorization", "Basic " + acct.Key}, 401},
		{"revoked key", []string{"Authorization", "Bearer " + revoked}, 401},
		{"bearer ok", []string{"Authorization", "Bearer " + acct.Key}, 200},
		{"lower-case bearer ok", []string{"Authorization", "bearer " + acct.Key}, 200},
		{"x-api-key ok", []string{"X-API-Key", acct.Key}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := api.Do("GET", "/v1/me", "", nil, tc.headers...)
			if r.Status != tc.want {
				t.Fatalf("got %d, want %d: %s", r.Status, tc.want, r.Body)
			}
			if tc.want == 401 && r.ErrorCode() != "unauthorized" {
				t.Fatalf("got code %q, want unauthorized", r.ErrorCode())
			}
		})
	}
}

func TestMe(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Ink Studio")
	var me struct {
		Account struct{ ID, Name string }
		Key     struct {
			ID          string
			Name        string
			Permissions []string
		}
		Label string
	}
	api.Do("GET", "/v1/me", acct.Key, nil).Want(200).JSON(&me)
	if me.Account.ID != acct.ID || me.Account.Name != "Ink Studio" {
		t.Fatalf("account = %+v, want %s Ink Studio", me.Account, acct.ID)
	}
	if !slices.Equal(me.Key.Permissions, perm.NewSet(perm.All...).List()) {
		t.Fatalf("owner permissions = %v, want all", me.Key.Permissions)
	}
	if me.Label != "Ink Studio (owner key)" {
		t.Fatalf("label = %q", me.Label)
	}
}

func TestKeys_CreateListRevoke(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")

	r := api.Do("POST", "/v1/keys", acct.Key, map[string]any{"name": "zap", "permissions": []string{"read:customer", "subscribe:webhook"}}).Want(201)
	raw := r.Str("api_key")
	id := r.Str("id")
	if len(raw) < 40 || raw[:3] != "hk_" {
		t.Fatalf("api_key = %q, want hk_…", raw)
	}
	// The secret is shown once: never in lists.
	list := api.Do("GET", "/v1/keys", acct.Key, nil).Want(200)
	if string(list.Body) == "" || strings.Contains(string(list.Body), raw) {
		t.Fatal("key list shows a secret")
	}
	var page struct {
		Data []struct {
			ID          string
			Permissions []string
			LastUsedAt  *string `json:"last_used_at"`
		}
	}
	list.JSON(&page)
	if len(page.Data) != 2 || page.Data[0].ID != id {
		t.Fatalf("keys = %+v, want the new key first of 2", page.Data)
	}

	// The new key works with exactly its permissions, and records use.
	api.Do("GET", "/v1/customers", raw, nil).Want(200)
	f := api.Do("POST", "/v1/customers", raw, map[string]any{"name": "x", "email": "x@example.com"}).Want(403)
	if f.Map()["error"].(map[string]any)["permission"] != "create:customer" {
		t.Fatalf("403 does not name create:customer: %s", f.Body)
	}
	api.Do("GET", "/v1/keys", acct.Key, nil).Want(200).JSON(&page)
	if page.Data[0].LastUsedAt == nil {
		t.Fatal("last_used_at not recorded")
	}

	api.Do("DELETE", "/v1/keys/"+id, acct.Key, nil).Want(200)
	api.Do("GET", "/v1/customers", raw, nil).Want(401)
	api.Do("DELETE", "/v1/keys/"+id, acct.Key, nil).Want(404)
}

func TestKeys_CannotMintStrongerKey(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")
	weak := api.Key(acct, perm.ManageKeys, perm.ReadCustomer)
	noKeys := api.Key(acct, perm.ReadCustomer)

	tests := []struct {
		name     string
		key      string
		perms    []string
		want     int
		wantPerm string
	}{
		{"subset", weak, []string{perm.ReadCustomer}, 201, ""},
		{"same", weak, []string{perm.ManageKeys, perm.ReadCustomer}, 201, ""},
		{"stronger", weak, []string{perm.ReadCustomer, perm.DeleteCustomer}, 403, perm.DeleteCustomer},
		{"no manage:keys", noKeys, []string{perm.ReadCustomer}, 403, perm.ManageKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := api.Do("POST", "/v1/keys", tc.key, map[string]any{"name": tc.name, "permissions": tc.perms})
			if r.Status != tc.want {
				t.Fatalf("got %d, want %d: %s", r.Status, tc.want, r.Body)
			}
			if tc.wantPerm != "" {
				if got := r.Map()["error"].(map[string]any)["permission"]; got != tc.wantPerm {
					t.Fatalf("permission = %v, want %s", got, tc.wantPerm)
				}
			}
		})
	}
	// A key minted by a weak key is no stronger than it, even transitively.
	r := api.Do("POST", "/v1/keys", weak, map[string]any{"name": "child", "permissions": []string{perm.ManageKeys}}).Want(201)
	api.Do("POST", "/v1/keys", r.Str("api_key"), map[string]any{"name": "grandchild", "permissions": []string{perm.ReadCustomer}}).Want(403)
}

func TestKeys_Validation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")
	tests := []struct {
		name      string
		body      any
		wantField string
	}{
		{"missing name", map[string]any{"permissions": []string{"read:customer"}}, "name"},
		{"no permissions", map[string]any{"name": "k", "permissions": []string{}}, "permissions"},
		{"unknown permission", map[string]any{"name": "k", "permissions": []string{"read:everything"}}, "permissions[0]"},
		{"unknown field", map[string]any{"name": "k", "permissions": []string{"read:customer"}, "admin": true}, "admin"},
		{"wrong type", map[string]any{"name": 5, "permissions": []string{"read:customer"}}, "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := api.Do("POST", "/v1/keys", acct.Key, tc.body).Want(422)
			assertField(t, r, tc.wantField)
		})
	}
}

func TestKeys_OtherAccountIsNotFound(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a, b := api.NewAccount("A"), api.NewAccount("B")
	var me struct{ Key struct{ ID string } }
	api.Do("GET", "/v1/me", a.Key, nil).Want(200).JSON(&me)
	api.Do("DELETE", "/v1/keys/"+me.Key.ID, b.Key, nil).Want(404)
	api.Do("GET", "/v1/me", a.Key, nil).Want(200)
}

func assertField(t *testing.T, r *apitest.Resp, field string) {
	t.Helper()
	var b struct {
		Error struct {
			Code   string
			Fields []struct{ Field, Message string }
		}
	}
	r.JSON(&b)
	if b.Error.Code != "validation_failed" {
		t.Fatalf("code = %q, want validation_failed: %s", b.Error.Code, r.Body)
	}
	for _, f := range b.Error.Fields {
		if f.Field == field && f.Message != "" {
			return
		}
	}
	t.Fatalf("no message for field %q in %s", field, r.Body)
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	c, err := api.Server.Accounts.CreateAccount(t.Context(), accounts.NewAccount{Name: "S", Email: "Owner@Example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := api.Server.Accounts.CheckPassword(t.Context(), "owner@example.COM", "correct horse")
	if err != nil || u.ID != c.Owner.ID {
		t.Fatalf("good login: %+v %v", u, err)
	}
	for _, tc := range [][2]string{{"owner@example.com", "wrong"}, {"nobody@example.com", "correct horse"}} {
		if _, err := api.Server.Accounts.CheckPassword(t.Context(), tc[0], tc[1]); apperr.As(err) == nil || apperr.As(err).Code != "unauthorized" {
			t.Fatalf("%v: %v, want unauthorized", tc, err)
		}
	}
}
