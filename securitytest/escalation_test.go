package securitytest

import (
	"strings"
	"testing"

	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
)

// Privilege escalation beyond a route's permission: through minting keys,
// through another key's stored response, and through the loop breaker.
func TestEscalation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker()
	w := newWorld(t, api, "Studio")

	t.Run("a key cannot mint a key holding more than it does", func(t *testing.T) {
		k := w.key(t, perm.ManageKeys, perm.SubscribeWebhook)
		for _, p := range without(perm.ManageKeys, perm.SubscribeWebhook) {
			r := api.With(t).Do("POST", "/v1/keys", k, map[string]any{"name": "more", "permissions": []string{perm.ManageKeys, p}}).Want(403)
			if got := errorPermission(r); got != p {
				t.Errorf("asking for %s: 403 names %q", p, got)
			}
		}
		api.With(t).Do("POST", "/v1/keys", k, map[string]any{"name": "same", "permissions": []string{perm.SubscribeWebhook}}).Want(201)
	})

	// F1: a stored response is the caller's own; another key of the account
	// sending the same Idempotency-Key and body is judged afresh.
	t.Run("an idempotency key replays only to the key that sent it", func(t *testing.T) {
		body := map[string]any{"name": "zapier", "permissions": []string{perm.ManageKeys, perm.ReadCustomer}}
		api.With(t).Do("POST", "/v1/keys", w.acct.Key, body, "Idempotency-Key", "order-1").Want(201)
		low := w.key(t, perm.ReadCustomer)
		r := api.With(t).Do("POST", "/v1/keys", low, body, "Idempotency-Key", "order-1")
		if r.Status != 403 || r.Header.Get("Idempotent-Replayed") != "" || strings.Contains(string(r.Body), "hk_") {
			t.Fatalf("low key replay: %d %v %s", r.Status, r.Header, r.Body)
		}
	})

	// F15: the writer an incident is about cannot reset its own breaker,
	// whatever it holds.
	t.Run("a paused writer cannot resolve its own incident", func(t *testing.T) {
		inc, writer := w.incidentBy(t)
		api.With(t).Do("POST", "/v1/incidents/"+inc+"/resolve", writer, nil).Want(403)
		var page struct {
			Data []struct{ ID, Status string }
		}
		w.do(t, "GET", "/v1/incidents", nil).Want(200).JSON(&page)
		if page.Data[0].ID != inc || page.Data[0].Status != "open" {
			t.Fatalf("incident after the writer's attempt: %+v", page.Data[0])
		}
	})
}
