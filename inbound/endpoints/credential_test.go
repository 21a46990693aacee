package endpoints_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
)

// An endpoint is a credential of kind endpoint. Revoking it bites on the
// very next post: rotating the token makes the old URL unknown even with
// the right verification secret, and deleting the endpoint makes its URL
// unknown and fires the accounts revoke hook once with the endpoint's
// credential. Rotation keeps the credential (only its token changes), so
// it fires nothing.
func TestEndpointCredential_RevocationBitesOnTheNextPost(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	var mu sync.Mutex
	var revoked []auth.Credential
	api.Server.Accounts.OnRevoke(func(_ context.Context, _ string, c auth.Credential) {
		mu.Lock()
		defer mu.Unlock()
		revoked = append(revoked, c)
	})
	seen := func() []auth.Credential {
		mu.Lock()
		defer mu.Unlock()
		return append([]auth.Credential(nil), revoked...)
	}
	acct := api.NewAccount("Studio")
	ep := create(t, api, acct.Key, map[string]any{"name": "Form", "action": "create_customer",
		"verification": map[string]any{"type": "token"}})
	ok := func() string { return `{"name": "Ann", "email": "` + email("rev") + `"}` }
	postJSON(api, ep.Path, ok(), "X-Hookline-Token", ep.Secret).Want(202)

	var rot struct{ URL string }
	api.Do("POST", "/v1/inbound-endpoints/"+ep.ID+"/rotate-token", acct.Key, nil).Want(200).JSON(&rot)
	u, err := url.Parse(rot.URL)
	if err != nil || u.Path == ep.Path {
		t.Fatalf("rotated URL %q: %v", rot.URL, err)
	}
	postJSON(api, ep.Path, ok(), "X-Hookline-Token", ep.Secret).Want(404)
	postJSON(api, u.Path, ok(), "X-Hookline-Token", ep.Secret).Want(202)
	if got := seen(); len(got) != 0 {
		t.Fatalf("rotation fired the revoke hook with %+v, want nothing", got)
	}

	api.Do("DELETE", "/v1/inbound-endpoints/"+ep.ID, acct.Key, nil).Want(200)
	postJSON(api, u.Path, ok(), "X-Hookline-Token", ep.Secret).Want(404)
	postJSON(api, ep.Path, ok(), "X-Hookline-Token", ep.Secret).Want(404)
	got := seen()
	if len(got) != 1 || got[0].Kind != auth.KindEndpoint || got[0].ID != ep.ID || got[0].Name != "inbound endpoint Form" {
		t.Fatalf("revoke hook saw %+v, want one endpoint credential %s named %q", got, ep.ID, "inbound endpoint Form")
	}
}

// An endpoint acts as its owner with the owner's permissions read at each
// post: a permission removed from the user, or the account closed, refuses
// the very next post (403, naming the permission or saying the owner is no
// longer active), and each refusal is in the endpoint's request log.
func TestEndpointCredential_OwnerChangesBiteOnTheNextPost(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	api.Do("POST", "/v1/event-types", acct.Key, map[string]any{"name": "order.paid", "description": "An order was paid."}).Want(201)
	ep := create(t, api, acct.Key, map[string]any{"name": "Orders", "action": "publish_event",
		"mapping": map[string]any{"type": map[string]any{"path": "", "default": "order.paid"}, "data.order_id": "id"}})
	postJSON(api, ep.Path, `{"id": "o-1"}`).Want(202)

	ctx := context.Background()
	rdb, keys := api.Server.Redis, api.Server.Keys
	userKey, acctKey := keys.User(acct.ID, acct.UserID), keys.Account(acct.ID)
	var without []string
	for _, p := range perm.All {
		if p != perm.PublishEvent {
			without = append(without, p)
		}
	}
	set := func(key, field, value string) {
		t.Helper()
		if err := rdb.HSet(ctx, key, field, value).Err(); err != nil {
			t.Fatal(err)
		}
	}

	// There is no API for a user's permissions yet: the record is written
	// through the key scheme, as an operator would.
	set(userKey, "perms", strings.Join(without, ","))
	r := postJSON(api, ep.Path, `{"id": "o-2"}`).Want(403)
	if e := r.Map()["error"].(map[string]any); e["code"] != "forbidden" || e["permission"] != perm.PublishEvent {
		t.Fatalf("got %s, want a 403 naming %s", r.Body, perm.PublishEvent)
	}
	set(userKey, "perms", strings.Join(perm.All, ","))
	postJSON(api, ep.Path, `{"id": "o-3"}`).Want(202)

	set(acctKey, "status", "closed")
	r = postJSON(api, ep.Path, `{"id": "o-4"}`).Want(403)
	if !strings.Contains(string(r.Body), "no longer active") {
		t.Fatalf("closed account: got %s, want a 403 saying the owner is no longer active", r.Body)
	}
	set(acctKey, "status", "active")
	postJSON(api, ep.Path, `{"id": "o-5"}`).Want(202)

	var statuses []int
	for _, rq := range requests(t, api, acct.Key, ep.ID).Data {
		statuses = append(statuses, rq.Status)
	}
	if want := []int{202, 403, 202, 403, 202}; !slices.Equal(statuses, want) {
		t.Fatalf("request log statuses %v, want %v (newest first)", statuses, want)
	}
}
