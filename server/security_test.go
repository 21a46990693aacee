package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/apitest"
)

// F1 (security review, probe E1): a low-privilege key replayed the owner's
// POST /v1/keys with the same Idempotency-Key and body and got the raw
// manage:keys key back. Records are now scoped to the credential, secrets
// shown once are never stored, and a replay needs the permissions the
// record was made with.
func TestIdempotency_F1_NoReplayAcrossCredentialsNoStoredSecrets(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")
	low := api.Key(acct, "read:customer")
	body := map[string]any{"name": "zapier", "permissions": []string{"manage:keys", "read:customer", "subscribe:webhook"}}

	first := api.Do("POST", "/v1/keys", acct.Key, body, "Idempotency-Key", "order-1").Want(201)
	raw := first.Str("api_key")

	// Another key of the account: its own request, refused on its own merits.
	r := api.Do("POST", "/v1/keys", low, body, "Idempotency-Key", "order-1").Want(403)
	if r.Header.Get("Idempotent-Replayed") != "" || strings.Contains(string(r.Body), "hk_") {
		t.Fatalf("low key got a replay: %s", r.Body)
	}
	// Nor is the key an existence oracle for another credential's records:
	// a different body under the owner's key is not "reused" for this one.
	low2 := api.Key(acct, "read:customer")
	api.Do("POST", "/v1/customers", low2, map[string]any{}, "Idempotency-Key", "order-1").Want(403)

	// The owner's own replay answers the key without its secret.
	again := api.Do("POST", "/v1/keys", acct.Key, body, "Idempotency-Key", "order-1").Want(201)
	if again.Header.Get("Idempotent-Replayed") != "true" || again.Str("id") != first.Str("id") {
		t.Fatalf("owner replay: %q %s", again.Header.Get("Idempotent-Replayed"), again.Body)
	}
	if strings.Contains(string(again.Body), "api_key") || strings.Contains(string(again.Body), raw) {
		t.Fatalf("replay carries the secret: %s", again.Body)
	}
	// Nothing in Redis holds the raw key.
	ctx := context.Background()
	rdb := api.Server.Redis
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if typ, _ := rdb.Type(ctx, k).Result(); typ != "hash" {
			continue
		}
		vals, _ := rdb.HGetAll(ctx, k).Result()
		for f, v := range vals {
			if strings.Contains(v, raw) {
				t.Fatalf("Redis %s field %s holds the raw key", k, f)
			}
		}
	}
}

// A replay needs the permissions its record was made with: a credential
// that lost one since cannot read back what it could once create.
func TestIdempotency_ReplayNeedsTheRecordsPermissions(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")
	k := api.Key(acct, "create:customer", "read:customer")
	body := map[string]any{"name": "Ann", "email": "ann@example.com"}
	api.Do("POST", "/v1/customers", k, body, "Idempotency-Key", "c-1").Want(201)
	api.Do("POST", "/v1/customers", k, body, "Idempotency-Key", "c-1").Want(201)

	ctx := context.Background()
	if err := api.Server.Redis.HSet(ctx, api.Server.Keys.User(acct.ID, acct.UserID), "perms", "create:customer").Err(); err != nil {
		t.Fatal(err)
	}
	if code := api.Do("POST", "/v1/customers", k, body, "Idempotency-Key", "c-1").Want(409).ErrorCode(); code != "conflict" {
		t.Fatalf("code %q, want conflict", code)
	}
}

// F9 (probe E8): the loop guard of the core write routes matched URL paths
// case-sensitively while routing did not, so /v1/Customers escaped it. The
// guard is now part of the write itself (events.WriteGuard), whatever the
// path's case.
func TestLoopGuard_F9_CaseVariantPathsAreGuarded(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")
	body := map[string]any{"name": "Ann", "email": "ann@example.com"}
	for _, path := range []string{"/v1/customers", "/v1/Customers", "/V1/CUSTOMERS"} {
		if code := api.Probe("POST", path, acct.Key, body, "Hookline-Chain", "chn_test", "Hookline-Hop", "9").Want(508).ErrorCode(); code != "loop_detected" {
			t.Fatalf("%s: code %q", path, code)
		}
	}
	keyID := api.Do("GET", "/v1/me", acct.Key, nil).Want(200).Map()["key"].(map[string]any)["id"].(string)
	ctx := context.Background()
	if err := api.Server.Redis.Set(ctx, api.Server.Keys.Paused(acct.ID, "key:"+keyID), "inc_test", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, req := range [][2]string{{"POST", "/v1/CUSTOMERS"}, {"POST", "/v1/customers"}, {"POST", "/V1/EVENTS"}, {"PATCH", "/v1/Customers/cus_01jd9q6m3v6f0t1r2y3x4z5a6b"}} {
		var b any = body
		if strings.HasSuffix(strings.ToLower(req[1]), "events") {
			b = map[string]any{"type": "invoice.paid", "data": map[string]any{}}
		}
		if code := api.Probe(req[0], req[1], acct.Key, b).Want(403).ErrorCode(); code != "loop_suspended" {
			t.Fatalf("%s %s: code %q, want loop_suspended", req[0], req[1], code)
		}
	}
}

// F14: no response that carries a secret shown once is kept for replays:
// webhook creates and secret rotations, endpoint creates and token
// rotations replay without the secret, and Redis holds none of them.
func TestIdempotency_F14_NoShownOnceSecretIsStored(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")
	k := acct.Key
	wh := map[string]any{"name": "w", "url": "http://127.0.0.1:9/hook", "events": []string{"customer.created"}}
	created := api.Do("POST", "/v1/webhooks", k, wh, "Idempotency-Key", "w-1").Want(201)
	secret := created.Str("secret")
	again := api.Do("POST", "/v1/webhooks", k, wh, "Idempotency-Key", "w-1").Want(201)
	if again.Header.Get("Idempotent-Replayed") != "true" || strings.Contains(string(again.Body), secret) || again.Str("id") != created.Str("id") {
		t.Fatalf("webhook replay: %s", again.Body)
	}
	id := created.Str("id")
	rot := api.Do("POST", "/v1/webhooks/"+id+"/rotate-secret", k, nil, "Idempotency-Key", "r-1").Want(200)
	secret2 := rot.Str("secret")
	if r := api.Do("POST", "/v1/webhooks/"+id+"/rotate-secret", k, nil, "Idempotency-Key", "r-1").Want(200); strings.Contains(string(r.Body), secret2) {
		t.Fatalf("rotate replay carries the secret: %s", r.Body)
	}
	ep := map[string]any{"name": "form", "action": "create_customer", "verification": map[string]any{"type": "hmac", "header": "X-Sig"}}
	ec := api.Do("POST", "/v1/inbound-endpoints", k, ep, "Idempotency-Key", "e-1").Want(201)
	url, vsecret := ec.Str("url"), ec.Str("secret")
	if r := api.Do("POST", "/v1/inbound-endpoints", k, ep, "Idempotency-Key", "e-1").Want(201); strings.Contains(string(r.Body), url) ||
		strings.Contains(string(r.Body), vsecret) {
		t.Fatalf("endpoint replay carries its URL or secret: %s", r.Body)
	}
	tok := url[strings.LastIndex(url, "/")+1:]
	ctx := context.Background()
	rdb := api.Server.Redis
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		if typ, _ := rdb.Type(ctx, key).Result(); typ != "hash" {
			continue
		}
		vals, _ := rdb.HGetAll(ctx, key).Result()
		for f, v := range vals {
			for _, s := range []string{secret, secret2, tok, vsecret} {
				if strings.Contains(v, s) {
					t.Fatalf("Redis %s field %s holds a shown-once secret", key, f)
				}
			}
		}
	}
}
