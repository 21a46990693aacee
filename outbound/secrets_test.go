package outbound_test

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookline/hookline/app/secrets"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound"
	"github.com/hookline/hookline/outbound/safehttp"
)

func ring(t *testing.T, ids []string, keys ...[]byte) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.New(ids, keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func randomKey(t *testing.T) []byte {
	b := make([]byte, secrets.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// noPlaintext fails t when any value in the test's Redis database
// contains one of the plaintexts.
func noPlaintext(t *testing.T, api *apitest.API, plain ...string) {
	t.Helper()
	ctx, rdb := context.Background(), api.Server.Redis
	iter := rdb.Scan(ctx, 0, "*", 500).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		var vals []string
		switch rdb.Type(ctx, k).Val() {
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "string":
			vals = append(vals, rdb.Get(ctx, k).Val())
		case "list":
			vals = rdb.LRange(ctx, k, 0, -1).Val()
		case "set":
			vals = rdb.SMembers(ctx, k).Val()
		case "zset":
			vals = rdb.ZRange(ctx, k, 0, -1).Val()
		}
		for _, v := range vals {
			for _, p := range plain {
				if strings.Contains(v, p) {
					t.Fatalf("Redis key %s holds the plaintext %q", k, p)
				}
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
}

// F14: signing secrets, the bearer token and header values are sealed at
// rest; deliveries still verify with an independent Standard Webhooks
// library; values sealed under an old key open once a new key is put
// first, and RotateSecrets reseals them under it.
func TestF14_SecretsSealedAtRestAndRotated(t *testing.T) {
	t.Parallel()
	oldKey, newKey := randomKey(t), randomKey(t)
	ringOld := ring(t, []string{"old"}, oldKey)
	ringBoth := ring(t, []string{"new", "old"}, newKey, oldKey)
	api := apitest.New(t, apitest.WithOutbound(func(o *outbound.Options) { o.Secrets = ringBoth }))
	api.StartWorker()
	acct := api.NewAccount("A")
	ctx := context.Background()
	deps := outbound.Deps{Keys: api.Server.Keys, Catalog: api.Server.Catalog, Events: api.Server.Events, Accounts: api.Server.Accounts}
	dev := outbound.Options{Policy: safehttp.Policy{AllowHTTP: true, AllowPrivate: true}}
	q := asynq.NewClientFromRedisClient(api.Server.Redis)
	t.Cleanup(func() { _ = q.Close() })
	// The gateway as it ran before the new key was added.
	withOld := dev
	withOld.Secrets = ringOld
	before := outbound.New(api.Server.Redis, q, deps, withOld)

	p := principal(t, api, acct.Key)
	recv := receiver.New(t)
	const token, hdrSecret, hdrPlain = "SECRET-BEARER-TOKEN-XYZ", "hdr-secret-1", "tenant-plain-1"
	w, err := before.CreateWebhook(ctx, p, outbound.NewWebhook{
		Name: "n", URL: recv.URL + "/hook", Events: []string{"customer.created"},
		Auth:    &outbound.AuthInput{Type: "bearer", Token: token},
		Headers: map[string]string{"X-Custom-Auth": hdrSecret, "X-Tenant": hdrPlain},
	})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := before.RotateSecret(ctx, p, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	plain := []string{w.Secret, strings.TrimPrefix(w.Secret, "whsec_"), rot.Secret, strings.TrimPrefix(rot.Secret, "whsec_"), token, hdrSecret}
	noPlaintext(t, api, append(plain, hdrPlain)...)

	send := func() {
		t.Helper()
		n := recv.Count()
		api.Do("POST", "/v1/webhooks/"+w.ID+"/test", acct.Key, nil).Want(202)
		r := recv.WaitFor(t, n+1, 10*time.Second)[n]
		for _, secret := range []string{w.Secret, rot.Secret} { // both sign during the rotation window
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(r.Body, r.Header); err != nil {
				t.Fatalf("standard-webhooks rejects the signature of %s…: %v", secret[:12], err)
			}
		}
		if r.Header.Get("Authorization") != "Bearer "+token || r.Header.Get("X-Custom-Auth") != hdrSecret || r.Header.Get("X-Tenant") != hdrPlain {
			t.Fatalf("got headers %v, want the opened auth and header values", r.Header)
		}
	}
	send() // old-key values open under [new, old] before any rotation

	shown := api.Do("GET", "/v1/webhooks/"+w.ID, acct.Key, nil).Want(200).Map()
	if h := shown["headers"].(map[string]any); h["X-Tenant"] != hdrPlain || h["X-Custom-Auth"] != "[redacted]" {
		t.Fatalf("got headers %v, want the plain one opened and the sensitive one redacted", h)
	}

	n, err := api.Server.Outbound.RotateSecrets(ctx)
	if err != nil || n != 5 {
		t.Fatalf("got %d, %v; want 5 values resealed (secret, previous secret, token, two headers)", n, err)
	}
	stored := api.Server.Redis.HGetAll(ctx, api.Server.Keys.Webhook(acct.ID, w.ID)).Val()
	for _, f := range []string{"secret", "prev_secret", "auth_secret"} {
		if !strings.HasPrefix(stored[f], "hlenc1:new:") {
			t.Fatalf("%s = %.20q…, want it sealed with the new key", f, stored[f])
		}
	}
	if strings.Contains(stored["headers"], "hlenc1:old:") {
		t.Fatalf("headers %s still sealed with the old key", stored["headers"])
	}
	if n, err := api.Server.Outbound.RotateSecrets(ctx); err != nil || n != 0 {
		t.Fatalf("second run: got %d, %v; want 0", n, err)
	}
	// (The attempt log shows non-sensitive header values, such as X-Tenant,
	// as sent; sensitive ones and secrets never.)
	noPlaintext(t, api, plain...)
	// The old key can go now.
	withNew := dev
	withNew.Secrets = ring(t, []string{"new"}, newKey)
	if got, err := outbound.StoredSecret(ctx, outbound.New(api.Server.Redis, q, deps, withNew), acct.ID, w.ID); err != nil || got != rot.Secret {
		t.Fatalf("with the new key only: got %.12q…, %v; want the current secret", got, err)
	}
	send()
}

// F20 (probe E17): a PATCH racing a rotate-secret never puts the old
// secret back: the stored secret is always the one rotate-secret returned.
func TestF20_PatchDoesNotUndoRotation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, apitest.WithOutbound(func(o *outbound.Options) {
		o.Secrets = ring(t, []string{"k"}, randomKey(t))
	}))
	acct := api.NewAccount("A")
	ctx, out := context.Background(), api.Server.Outbound
	p := principal(t, api, acct.Key)
	w, err := out.CreateWebhook(ctx, p, outbound.NewWebhook{Name: "n", URL: "http://127.0.0.1:9/x", Events: []string{"customer.created"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		var wg sync.WaitGroup
		var rotated outbound.Webhook
		var rerr, perr error
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			name := "renamed"
			_, perr = out.UpdateWebhook(ctx, p, w.ID, outbound.WebhookPatch{Name: &name})
		}()
		go func() {
			defer wg.Done()
			<-start
			rotated, rerr = out.RotateSecret(ctx, p, w.ID)
		}()
		close(start)
		wg.Wait()
		if rerr != nil || perr != nil {
			t.Fatalf("rotate: %v; patch: %v", rerr, perr)
		}
		got, err := outbound.StoredSecret(ctx, out, acct.ID, w.ID)
		if err != nil || got != rotated.Secret {
			t.Fatalf("iteration %d: stored secret %.12q… (%v), want the one rotate-secret returned %.12q…", i, got, err, rotated.Secret)
		}
	}
}
