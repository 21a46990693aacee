package outbound_test

import (
	"context"
	"testing"

	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/outbound"
)

// Removing "the webhooks of a credential" needs a credential id: an empty
// one would match every webhook made without a credential, so it removes
// nothing and says so. A real credential removes only its own webhooks of
// the given source.
func TestRemoveWebhooksOfCredential_EmptyIDRemovesNothing(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a := api.NewAccount("A")
	ctx := context.Background()
	accts, out := api.Server.Accounts, api.Server.Outbound

	principal := func(raw string) auth.Principal {
		t.Helper()
		p, err := accts.Authenticate(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1 := principal(api.Key(a, perm.SubscribeWebhook, perm.ReadCustomer))
	p2 := principal(api.Key(a, perm.SubscribeWebhook, perm.ReadCustomer))
	// The same user acting without a credential: its webhooks record none.
	none, err := accts.Principal(ctx, a.ID, a.UserID, auth.Credential{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	create := func(p auth.Principal, source string) string {
		t.Helper()
		w, err := out.CreateWebhook(ctx, p, outbound.NewWebhook{
			Name: "n", URL: "http://127.0.0.1:9/x", Events: []string{"customer.created"}, Source: source,
		})
		if err != nil {
			t.Fatal(err)
		}
		return w.ID
	}
	noneZap, noneAPI := create(none, outbound.SourceZapier), create(none, outbound.SourceAPI)
	k1Zap, k1API := create(p1, outbound.SourceZapier), create(p1, outbound.SourceAPI)
	k2Zap := create(p2, outbound.SourceZapier)

	exists := func(id string) bool {
		t.Helper()
		switch st := api.Do("GET", "/v1/webhooks/"+id, a.Key, nil).Status; st {
		case 200:
			return true
		case 404:
			return false
		default:
			t.Fatalf("GET webhook %s: status %d", id, st)
			return false
		}
	}

	for _, cred := range []auth.Credential{{}, {Kind: auth.KindKey}} {
		if err := out.RemoveWebhooksOfCredential(ctx, a.ID, cred, ""); err == nil {
			t.Fatalf("credential %+v: got no error, want a refusal of the empty id", cred)
		}
		if err := out.RemoveWebhooksOfCredential(ctx, a.ID, cred, outbound.SourceZapier); err == nil {
			t.Fatalf("credential %+v, source zapier: got no error, want a refusal of the empty id", cred)
		}
	}
	for _, id := range []string{noneZap, noneAPI, k1Zap, k1API, k2Zap} {
		if !exists(id) {
			t.Fatalf("webhook %s removed by an empty credential id", id)
		}
	}

	if err := out.RemoveWebhooksOfCredential(ctx, a.ID, p1.Credential, outbound.SourceZapier); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"the credential's webhook of the source", k1Zap, false},
		{"the credential's webhook of another source", k1API, true},
		{"another credential's webhook of the source", k2Zap, true},
		{"a webhook made without a credential, same source", noneZap, true},
		{"a webhook made without a credential, other source", noneAPI, true},
	}
	for _, tc := range tests {
		if got := exists(tc.id); got != tc.want {
			t.Errorf("%s: exists %v, want %v", tc.name, got, tc.want)
		}
	}
}

// At fan-out the owner's principal is built by accounts like every other
// caller's: once the account is closed, its webhooks get no deliveries.
func TestEmit_ClosedAccountGetsNoDeliveries(t *testing.T) {
	t.Parallel()
	// Without the owner cache, so the closing bites at the very next event
	// (with it, within OwnerCacheTTL).
	api := apitest.New(t, apitest.WithOutbound(func(o *outbound.Options) { o.OwnerCacheTTL = -1 }))
	a := api.NewAccount("A")
	ctx := context.Background()
	rdb, keys, out := api.Server.Redis, api.Server.Keys, api.Server.Outbound
	p, err := api.Server.Accounts.Authenticate(ctx, a.Key)
	if err != nil {
		t.Fatal(err)
	}
	w, err := out.CreateWebhook(ctx, p, outbound.NewWebhook{
		Name: "n", URL: "http://127.0.0.1:9/x", Events: []string{"customer.created"}, Active: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	emit := func(data string) int64 {
		t.Helper()
		ev := api.Server.Events.New(a.ID, "customer.created", []byte(data), events.Cause{})
		if err := api.Server.Events.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if err := out.Emit(ctx, ev); err != nil {
			t.Fatalf("emit: got %v, want nil (a closed account is not an error)", err)
		}
		n, err := rdb.ZCard(ctx, keys.DeliveriesByWebhook(a.ID, w.ID)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := emit(`{"id":"cus_1"}`); n != 1 {
		t.Fatalf("got %d deliveries while the account is active, want 1", n)
	}
	if err := rdb.HSet(ctx, keys.Account(a.ID), "status", "closed").Err(); err != nil {
		t.Fatal(err)
	}
	if n := emit(`{"id":"cus_2"}`); n != 1 {
		t.Fatalf("got %d deliveries after the account closed, want still 1", n)
	}
}
