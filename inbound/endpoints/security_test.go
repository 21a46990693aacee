package endpoints_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/secrets"
	"github.com/hookline/hookline/inbound/endpoints"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound/signing"
)

// countKeys counts the keys of the test's database matching a pattern.
func countKeys(t testing.TB, api *apitest.API, pattern string) int {
	t.Helper()
	n := 0
	iter := api.Server.Redis.Scan(context.Background(), 0, pattern, 1000).Iterator()
	for iter.Next(context.Background()) {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// keyID returns the id of a raw API key, as /v1/me shows it.
func keyID(t testing.TB, api *apitest.API, raw string) string {
	t.Helper()
	var me struct{ Key struct{ ID string } }
	api.Do("GET", "/v1/me", raw, nil).Want(200).JSON(&me)
	return me.Key.ID
}

// E3 (F4): a public create_customer endpoint never answers a customer's
// fields, not for an echo of a state just sent out, and answers an
// existing email exactly as a new one (202 accepted), so it is neither a
// way to read customers nor to learn which emails exist. Form posts still
// go to success_url; the owner reads what happened in the request log.
func TestEndpoints_PublicAnswersRevealNoCustomer(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker()
	acct := api.NewAccount("Studio")
	hook := receiver.New(t)
	api.Do("POST", "/v1/zapier/hooks", acct.Key, map[string]any{"hookUrl": hook.URL, "event": "customer.created"}).Want(201)
	api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "Bob Secret", "email": "bob@example.com", "notes": "SSN 123-45-6789"}).Want(201)
	api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "Old Client", "email": "old@example.com", "notes": "vip"}).Want(201)
	hook.WaitFor(t, 2, 10*time.Second)
	ep := create(t, api, acct.Key, map[string]any{"name": "Signup", "action": "create_customer", "success_url": "https://studio.example/thanks"})

	shape := func(r *apitest.Resp) string {
		t.Helper()
		m := r.Map()
		id, _ := m["id"].(string)
		if len(m) != 2 || m["status"] != "accepted" || !strings.HasPrefix(id, "req_") {
			t.Fatalf("answer %s, want {status: accepted, id: req_…}", r.Body)
		}
		for _, s := range []string{"Bob", "SSN", "cus_", "vip", "already"} {
			if strings.Contains(string(r.Body), s) {
				t.Fatalf("answer %s reveals %q", r.Body, s)
			}
		}
		return r.Header.Get("Content-Type")
	}
	echo := postJSON(api, ep.Path, `{"name": "x", "email": "BOB@example.com"}`).Want(202) // an echo of a sent state
	fresh := postJSON(api, ep.Path, fmt.Sprintf(`{"name": "x", "email": %q}`, email("new"))).Want(202)
	if shape(echo) != shape(fresh) {
		t.Fatal("answers differ in content type")
	}
	// A form post still redirects, for a taken email as for a new one.
	post(api, ep.Path, "application/x-www-form-urlencoded", []byte("name=x&email=bob%40example.com")).Want(303)
	post(api, ep.Path, "application/x-www-form-urlencoded", []byte("name=x&email="+email("form"))).Want(303)

	// Another account without subscriptions: nothing was sent out, so an
	// existing email is no echo, and still answers as a new one does.
	b := api.NewAccount("Other")
	api.Do("POST", "/v1/customers", b.Key, map[string]any{"name": "Ann", "email": "ann@example.com"}).Want(201)
	epB := create(t, api, b.Key, map[string]any{"name": "Signup", "action": "create_customer"})
	existing := postJSON(api, epB.Path, `{"name": "x", "email": "ann@example.com"}`).Want(202)
	newOne := postJSON(api, epB.Path, fmt.Sprintf(`{"name": "x", "email": %q}`, email("b"))).Want(202)
	shape(existing)
	shape(newOne)
	if n := len(customersByEmail(t, api, b.Key, "ann@example.com").Data); n != 1 {
		t.Fatalf("%d customers with the taken email, want 1", n)
	}
	// update_customer endpoints: a customer that is not there, or a move to
	// a taken email, is answered like a real update.
	up := create(t, api, b.Key, map[string]any{"name": "Profile", "action": "update_customer"})
	shape(postJSON(api, up.Path, `{"email": "nobody@example.com", "name": "x"}`).Want(202))
	shape(postJSON(api, up.Path, `{"email": "ann@example.com", "name": "Ann B"}`).Want(202))
	bo := api.Do("POST", "/v1/customers", b.Key, map[string]any{"name": "Bo", "email": "bo@example.com"}).Want(201).Str("id")
	shape(postJSON(api, up.Path, fmt.Sprintf(`{"id": %q, "email": "ann@example.com"}`, bo)).Want(202))
	if got := api.Do("GET", "/v1/customers/"+bo, b.Key, nil).Want(200).Str("email"); got != "bo@example.com" {
		t.Fatalf("email moved to %s", got)
	}
	var codes []string
	for _, rq := range requests(t, api, b.Key, up.ID).Data {
		code := ""
		if rq.Error != nil {
			code = rq.Error.Code
		}
		codes = append(codes, code)
	}
	if strings.Join(codes, ",") != "conflict,,not_found" {
		t.Fatalf("update log error codes %v, want conflict, none, not_found (newest first)", codes)
	}
	// The owner sees it in the log.
	l := requests(t, api, b.Key, epB.ID)
	if len(l.Data) != 2 || l.Data[1].Status != 202 || l.Data[1].Error == nil || l.Data[1].Error.Code != "conflict" ||
		!strings.Contains(l.Data[1].Error.Message, "already has this email") || l.Data[0].Error != nil {
		t.Fatalf("request log %+v, want the taken email noted on the older post", l.Data)
	}
}

// E4 (F5): a flood of posts to a known URL with a low rate limit leaves
// Redis bounded: refused posts are counted on the endpoint, not stored.
// Not parallel, so used_memory is this test's alone.
func TestEndpoints_FloodOfRefusedPostsStoresNothing(t *testing.T) {
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	ep := create(t, api, acct.Key, map[string]any{"name": "Form", "action": "create_customer", "rate_limit": 1})
	ctx := context.Background()
	rdb := api.Server.Redis
	memory := func() int64 {
		info, err := rdb.Info(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatal("no used_memory")
		return 0
	}
	keysBefore, err := rdb.DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	memBefore := memory()
	body := `{"name": "x", "email": "not-an-email", "pad": "` + strings.Repeat("a", 8000) + `"}`
	statuses := map[int]int{}
	for i := 0; i < 1500; i++ {
		req := api.Request("POST", ep.Path, "", body, "X-Padding", strings.Repeat("h", 3000))
		res, err := api.App.Test(req, -1) // unchecked: 1,500 answers of two kinds
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		statuses[res.StatusCode]++
	}
	if statuses[429] < 1490 || statuses[429]+statuses[422] != 1500 {
		t.Fatalf("statuses %v, want nearly all 429 and the rest 422", statuses)
	}
	keysAfter, _ := rdb.DBSize(ctx).Result()
	records := countKeys(t, api, api.Server.Keys.InboundRequest(acct.ID, "")+"*")
	if records != statuses[422] || keysAfter-keysBefore > int64(statuses[422])+3 {
		t.Fatalf("%d request records and %d new keys after %v, want one record per logged post and a few keys", records, keysAfter-keysBefore, statuses)
	}
	if grown := memory() - memBefore; grown > 1<<20 {
		t.Fatalf("used_memory grew %d bytes for a flood of refused posts", grown)
	}
	var got struct{ Refused struct{ Rate int } }
	api.Do("GET", "/v1/inbound-endpoints/"+ep.ID, acct.Key, nil).Want(200).JSON(&got)
	if got.Refused.Rate != statuses[429] {
		t.Fatalf("refused.rate %d, want %d", got.Refused.Rate, statuses[429])
	}
	// A logged failure is kept for a day, not the log's 30 days.
	l := requests(t, api, acct.Key, ep.ID)
	ttl, err := rdb.TTL(ctx, api.Server.Keys.InboundRequest(acct.ID, l.Data[0].ID)).Result()
	if err != nil || ttl <= 0 || ttl > 24*time.Hour {
		t.Fatalf("failed post's record TTL %v (%v), want at most 24h", ttl, err)
	}
}

// E12 (F13): one signed Standard Webhooks request replayed with fresh
// Idempotency-Keys is still one submission: the signed webhook-id is the
// only sender key, so it publishes exactly one event.
func TestEndpoints_StandardWebhooksReplayUnderNewIdempotencyKeys(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Shop")
	api.Do("POST", "/v1/event-types", acct.Key, map[string]any{"name": "order.paid", "description": "An order was paid."}).Want(201)
	ep := create(t, api, acct.Key, map[string]any{"name": "Orders", "action": "publish_event",
		"verification": map[string]any{"type": "standard_webhooks"},
		"mapping":      map[string]any{"type": map[string]any{"path": "", "default": "order.paid"}, "data.order_id": "id"}})
	body := []byte(`{"id": "o-1"}`)
	signer, err := signing.NewSigner(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Unix()
	signed := []string{"webhook-id", "msg_replay_1", "webhook-timestamp", strconv.FormatInt(ts, 10),
		"webhook-signature", signer.StandardSignature("msg_replay_1", ts, body)}
	first := postJSON(api, ep.Path, string(body), signed...).Want(202)
	for _, key := range []string{"", "attacker-1", "attacker-2"} {
		hs := signed
		if key != "" {
			hs = append(append([]string{}, signed...), "Idempotency-Key", key)
		}
		r := postJSON(api, ep.Path, string(body), hs...).Want(202)
		if r.Header.Get("Idempotent-Replayed") != "true" || string(r.Body) != string(first.Body) {
			t.Fatalf("replay with Idempotency-Key %q: %s %v, want the first answer replayed", key, r.Body, r.Header)
		}
	}
	var evs struct{ Data []struct{ ID string } }
	api.Do("GET", "/v1/events?type=order.paid", acct.Key, nil).Want(200).JSON(&evs)
	if len(evs.Data) != 1 {
		t.Fatalf("%d order.paid events from one signed request, want 1", len(evs.Data))
	}
	// Other verifications keep honouring Idempotency-Key.
	plain := create(t, api, acct.Key, map[string]any{"name": "Plain", "action": "publish_event",
		"mapping": map[string]any{"type": map[string]any{"path": "", "default": "order.paid"}, "data.order_id": "id"}})
	a := postJSON(api, plain.Path, `{"id": "o-2"}`, "Idempotency-Key", "k-1").Want(202)
	b := postJSON(api, plain.Path, `{"id": "o-2"}`, "Idempotency-Key", "k-1").Want(202)
	if b.Header.Get("Idempotent-Replayed") != "true" || string(a.Body) != string(b.Body) {
		t.Fatal("Idempotency-Key not honoured without standard_webhooks")
	}
}

// F12: an account holds at most MaxEndpoints endpoints (100 by default);
// one more is a 409 naming the setting, and deleting one makes room.
func TestEndpoints_PerAccountLimit(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	var last string
	for i := 0; i < 100; i++ {
		last = create(t, api, acct.Key, map[string]any{"name": fmt.Sprint("form ", i), "action": "create_customer"}).ID
	}
	r := api.Do("POST", "/v1/inbound-endpoints", acct.Key, map[string]any{"name": "one more", "action": "create_customer"}).Want(409)
	if r.ErrorCode() != "conflict" || !strings.Contains(string(r.Body), "limit of 100 inbound endpoints") ||
		!strings.Contains(string(r.Body), "HOOKLINE_MAX_ENDPOINTS") {
		t.Fatalf("over the limit: %s", r.Body)
	}
	// Another account has its own count.
	other := api.NewAccount("Other")
	create(t, api, other.Key, map[string]any{"name": "form", "action": "create_customer"})
	api.Do("DELETE", "/v1/inbound-endpoints/"+last, acct.Key, nil).Want(200)
	create(t, api, acct.Key, map[string]any{"name": "room again", "action": "create_customer"})
}

// E7 (F8): endpoints show the credential that created them, and pausing a
// revoked credential's endpoints stops their posts, leaving other
// endpoints alone. An empty credential id is refused.
func TestEndpoints_PauseEndpointsOfCredential(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	leaked := api.Key(acct, perm.CreateCustomer)
	backdoor := create(t, api, leaked, map[string]any{"name": "Backdoor", "action": "create_customer"})
	mine := create(t, api, acct.Key, map[string]any{"name": "Mine", "action": "create_customer"})
	id := keyID(t, api, leaked)

	var got struct {
		CreatedBy *struct{ Kind, ID string } `json:"created_by"`
	}
	api.Do("GET", "/v1/inbound-endpoints/"+backdoor.ID, acct.Key, nil).Want(200).JSON(&got)
	if got.CreatedBy == nil || got.CreatedBy.Kind != "key" || got.CreatedBy.ID != id {
		t.Fatalf("created_by %+v, want key %s", got.CreatedBy, id)
	}

	ctx := context.Background()
	svc := api.Server.Endpoints
	if _, err := svc.PauseEndpointsOfCredential(ctx, acct.ID, auth.Credential{Kind: auth.KindKey}); err == nil {
		t.Fatal("an empty credential id was accepted")
	}
	n, err := svc.PauseEndpointsOfCredential(ctx, acct.ID, auth.Credential{Kind: auth.KindKey, ID: id})
	if err != nil || n != 1 {
		t.Fatalf("paused %d (%v), want 1", n, err)
	}
	if n, _ := svc.PauseEndpointsOfCredential(ctx, acct.ID, auth.Credential{Kind: auth.KindKey, ID: id}); n != 0 {
		t.Fatalf("paused %d again, want 0", n)
	}
	postJSON(api, backdoor.Path, fmt.Sprintf(`{"name": "x", "email": %q}`, email("bd"))).Want(403)
	postJSON(api, mine.Path, fmt.Sprintf(`{"name": "x", "email": %q}`, email("mine"))).Want(202)
}

// hexSig is the hex HMAC-SHA256 of body under secret.
func hexSig(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, secrets.KeySize) }

// F14: HMAC and Standard Webhooks verification secrets are sealed in
// Redis (no plaintext anywhere in the database), verification still
// works, and RotateSecrets seals again under the current key every stale
// value, legacy plain ones included.
func TestEndpoints_VerificationSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Shop")
	ctx := context.Background()
	p, err := api.Server.Accounts.Authenticate(ctx, acct.Key)
	if err != nil {
		t.Fatal(err)
	}
	oldRing, _ := secrets.New([]string{"old"}, [][]byte{testKey(1)})
	newRing, _ := secrets.New([]string{"new", "old"}, [][]byte{testKey(2), testKey(1)})
	svc := func(kr *secrets.Keyring) *endpoints.Service {
		return endpoints.New(api.Server.Redis, api.Server.Keys, api.Server.Accounts, api.Server.Inbound, endpoints.Options{Secrets: kr})
	}
	mk := func(s *endpoints.Service, v endpoints.VerificationInput) (endpoints.Endpoint, endpoints.Secrets) {
		t.Helper()
		e, sec, err := s.Create(ctx, p, endpoints.NewEndpoint{Name: v.Type, Action: "create_customer", Verification: &v})
		if err != nil {
			t.Fatal(err)
		}
		return e, sec
	}
	hm, hmSec := mk(svc(oldRing), endpoints.VerificationInput{Type: "hmac", Header: "X-Sig", Secret: "hmac-plain-secret-1"})
	sw, swSec := mk(svc(oldRing), endpoints.VerificationInput{Type: "standard_webhooks"})
	legacy, legacySec := mk(svc(nil), endpoints.VerificationInput{Type: "hmac", Header: "X-Sig", Secret: "legacy-plain-secret"})

	stored := func(id string) string {
		t.Helper()
		v, err := api.Server.Redis.HGet(ctx, api.Server.Keys.InboundEndpoint(acct.ID, id), "ver_secret").Result()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Nothing in the database holds the sealed secrets in plain.
	iter := api.Server.Redis.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if typ, _ := api.Server.Redis.Type(ctx, k).Result(); typ != "hash" {
			continue
		}
		for f, v := range api.Server.Redis.HGetAll(ctx, k).Val() {
			for _, plain := range []string{"hmac-plain-secret-1", swSec.Verification} {
				if strings.Contains(v, plain) {
					t.Fatalf("%s %s holds a verification secret in plain", k, f)
				}
			}
		}
	}
	if !strings.HasPrefix(stored(hm.ID), "hlenc1:old:") || !strings.HasPrefix(stored(sw.ID), "hlenc1:old:") || stored(legacy.ID) != "legacy-plain-secret" {
		t.Fatalf("stored %q %q %q", stored(hm.ID), stored(sw.ID), stored(legacy.ID))
	}

	body := []byte(fmt.Sprintf(`{"name": "x", "email": %q}`, email("sealed")))
	post := func(s *endpoints.Service, token string, h http.Header, b []byte) int {
		t.Helper()
		h.Set("Content-Type", "application/json")
		rep, err := s.Receive(ctx, endpoints.Submission{Token: token, ContentType: "application/json", Header: h, Body: b})
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		return rep.Status
	}
	swPost := func(s *endpoints.Service, b []byte) int {
		signer, _ := signing.NewSigner(swSec.Verification)
		ts := time.Now().Unix()
		id := fmt.Sprint("msg_", ts, len(b))
		return post(s, swSec.Token, http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {strconv.FormatInt(ts, 10)},
			"Webhook-Signature": {signer.StandardSignature(id, ts, b)}}, b)
	}
	if post(svc(oldRing), hmSec.Token, http.Header{"X-Sig": {hexSig("hmac-plain-secret-1", body)}}, body) != 202 {
		t.Fatal("hmac post refused")
	}
	if swPost(svc(oldRing), []byte(fmt.Sprintf(`{"name": "y", "email": %q}`, email("sw")))) != 202 {
		t.Fatal("standard webhooks post refused")
	}

	// Rotation: every stale value (two under the old key, one plain).
	rot := svc(newRing)
	n, err := rot.RotateSecrets(ctx)
	if err != nil || n != 3 {
		t.Fatalf("rotated %d (%v), want 3", n, err)
	}
	for _, id := range []string{hm.ID, sw.ID, legacy.ID} {
		if !strings.HasPrefix(stored(id), "hlenc1:new:") {
			t.Fatalf("%s after rotation: %q", id, stored(id))
		}
	}
	if n, err := rot.RotateSecrets(ctx); err != nil || n != 0 {
		t.Fatalf("second rotation changed %d (%v), want 0", n, err)
	}
	b2 := []byte(fmt.Sprintf(`{"name": "z", "email": %q}`, email("rot")))
	if post(rot, legacySec.Token, http.Header{"X-Sig": {hexSig("legacy-plain-secret", b2)}}, b2) != 202 {
		t.Fatal("legacy hmac post refused after rotation")
	}
	if swPost(rot, []byte(fmt.Sprintf(`{"name": "w", "email": %q}`, email("sw2")))) != 202 {
		t.Fatal("standard webhooks post refused after rotation")
	}
	// A value moved to another record does not open there.
	if err := api.Server.Redis.HSet(ctx, api.Server.Keys.InboundEndpoint(acct.ID, legacy.ID), "ver_secret", stored(hm.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := rot.Receive(ctx, endpoints.Submission{Token: legacySec.Token, ContentType: "application/json",
		Header: http.Header{"X-Sig": {hexSig("hmac-plain-secret-1", b2)}}, Body: b2}); err == nil {
		t.Fatal("a sealed secret moved to another endpoint opened there")
	}
}

// E7 (F8) end to end: revoking the key that created an endpoint pauses it
// (through the accounts revoke hook the composition root registers).
func TestEndpoints_RevokingTheCreatorPausesItsEndpoints(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	leaked := api.Key(acct, perm.CreateCustomer)
	ep := create(t, api, leaked, map[string]any{"name": "Backdoor", "action": "create_customer"})
	postJSON(api, ep.Path, fmt.Sprintf(`{"name": "x", "email": %q}`, email("before"))).Want(202)
	api.Do("DELETE", "/v1/keys/"+keyID(t, api, leaked), acct.Key, nil).Want(200)
	postJSON(api, ep.Path, fmt.Sprintf(`{"name": "x", "email": %q}`, email("after"))).Want(403)
	var got struct{ Paused bool }
	api.Do("GET", "/v1/inbound-endpoints/"+ep.ID, acct.Key, nil).Want(200).JSON(&got)
	if !got.Paused {
		t.Fatal("the revoked key's endpoint is not paused")
	}
}

// An outsider posting echoes to a public endpoint without verification
// must not be able to switch it off: its echoes are suppressed and
// recorded, but the loop breaker never pauses an unverified endpoint.
func TestEndpoints_UnverifiedEchoesNeverPauseTheEndpoint(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker()
	acct := api.NewAccount("Studio")
	hook := receiver.New(t)
	api.Do("POST", "/v1/zapier/hooks", acct.Key, map[string]any{"hookUrl": hook.URL, "event": "customer.created"}).Want(201)
	api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "Bob", "email": "bob@example.com"}).Want(201)
	hook.WaitFor(t, 1, 10*time.Second)
	ep := create(t, api, acct.Key, map[string]any{"name": "Signup", "action": "create_customer"})
	for i := 0; i < 6; i++ {
		postJSON(api, ep.Path, `{"name": "Bob", "email": "bob@example.com"}`).Want(202)
	}
	// Still open to real signups.
	postJSON(api, ep.Path, `{"name": "New", "email": "new@example.com"}`).Want(202)
	if n := len(customersByEmail(t, api, acct.Key, "new@example.com").Data); n != 1 {
		t.Fatalf("%d customers for the new signup, want 1: the endpoint was paused", n)
	}
}
