package outbound

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/store"
)

// webhookStore is outbound's Redis layer: webhooks here, deliveries and
// their attempts in store_deliveries.go, in-flight leases in
// store_leases.go, the other Lua scripts in store_scripts.go. Only these
// files issue Redis commands; every key comes from store.Keys.
type webhookStore struct {
	rdb  redis.UniversalClient
	keys store.Keys
	seal sealer
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// fields returns the stored field/value pairs of w, the secret ones
// sealed (sealer), only those named in only when it is not empty.
func (s *webhookStore) fields(w Webhook, only ...string) ([]any, error) {
	var out []any
	want := func(name string) bool { return len(only) == 0 || slices.Contains(only, name) }
	add := func(name string, v any) {
		if want(name) {
			out = append(out, name, v)
		}
	}
	var err error
	sealed := func(name, plain string) {
		if err == nil && want(name) {
			var v string
			v, err = s.seal.seal(w.AccountID, w.ID, name, plain)
			out = append(out, name, v)
		}
	}
	sched := make([]string, len(w.RetrySchedule))
	for i, d := range w.RetrySchedule {
		sched[i] = strconv.FormatInt(d.Milliseconds(), 10)
	}
	add("id", w.ID)
	add("owner_id", w.OwnerID)
	add("credential", w.Credential)
	add("source", w.Source)
	add("name", w.Name)
	add("url", w.URL)
	add("origin_url", w.OriginURL)
	add("method", w.Method)
	add("events", strings.Join(w.Events, ","))
	add("auth_type", w.Auth.Type)
	add("auth_username", w.Auth.Username)
	sealed(fieldAuthSecret, w.Auth.Secret)
	if want("headers") && err == nil {
		var h string
		h, err = s.seal.sealHeaders(w.AccountID, w.ID, w.Headers)
		out = append(out, "headers", h)
	}
	add("retry_schedule", strings.Join(sched, ","))
	add("timeout_ms", w.Timeout.Milliseconds())
	add("rate_limit", strconv.FormatFloat(w.RateLimit, 'f', -1, 64))
	add("max_in_flight", w.MaxInFlight)
	add("active", boolStr(w.Active))
	add("disabled_reason", w.DisabledReason)
	add("disabled_at", store.MS(w.DisabledAt))
	add("consecutive_failures", w.ConsecutiveFailures)
	sealed(fieldSecret, w.Secret)
	sealed(fieldPrevSecret, w.PrevSecret)
	add("prev_secret_until", store.MS(w.PrevSecretUntil))
	add("created_at", store.MS(w.CreatedAt))
	add("updated_at", store.MS(w.UpdatedAt))
	if err != nil {
		return nil, err
	}
	return out, nil
}

func webhookFrom(acct string, m map[string]string) Webhook {
	w := Webhook{
		ID: m["id"], AccountID: acct, OwnerID: m["owner_id"], Credential: m["credential"], Source: m["source"],
		Name: m["name"], URL: m["url"], OriginURL: m["origin_url"], Method: m["method"],
		Auth:   Auth{Type: m["auth_type"], Username: m["auth_username"], Secret: m["auth_secret"]},
		Active: m["active"] == "1", DisabledReason: m["disabled_reason"], DisabledAt: store.Time(m["disabled_at"]),
		Secret: m["secret"], PrevSecret: m["prev_secret"], PrevSecretUntil: store.Time(m["prev_secret_until"]),
		CreatedAt: store.Time(m["created_at"]), UpdatedAt: store.Time(m["updated_at"]),
	}
	if m["events"] != "" {
		w.Events = strings.Split(m["events"], ",")
	}
	_ = json.Unmarshal([]byte(m["headers"]), &w.Headers)
	if m["retry_schedule"] != "" {
		for _, s := range strings.Split(m["retry_schedule"], ",") {
			n, _ := strconv.ParseInt(s, 10, 64)
			w.RetrySchedule = append(w.RetrySchedule, time.Duration(n)*time.Millisecond)
		}
	}
	t, _ := strconv.ParseInt(m["timeout_ms"], 10, 64)
	w.Timeout = time.Duration(t) * time.Millisecond
	w.RateLimit, _ = strconv.ParseFloat(m["rate_limit"], 64)
	if w.MaxInFlight, _ = strconv.Atoi(m["max_in_flight"]); w.MaxInFlight <= 0 {
		w.MaxInFlight = DefaultMaxInFlight // stored before the setting existed
	}
	w.ConsecutiveFailures, _ = strconv.Atoi(m["consecutive_failures"])
	return w
}

// create writes a new webhook and its index entries in one script
// (createWebhookScript), unless the account already has max webhooks:
// false then.
func (s *webhookStore) create(ctx context.Context, w Webhook, max int) (bool, error) {
	kv, err := s.fields(w)
	if err != nil {
		return false, err
	}
	keys := []string{s.keys.Webhook(w.AccountID, w.ID), s.keys.Webhooks(w.AccountID)}
	for _, e := range w.Events {
		keys = append(keys, s.keys.WebhooksByType(w.AccountID, e))
	}
	n, err := createWebhookScript.Run(ctx, s.rdb, keys, append([]any{w.ID, max}, kv...)...).Int()
	if err != nil {
		return false, fmt.Errorf("outbound: save webhook %s: %w", w.ID, err)
	}
	return n == 1, nil
}

// Outcomes of update.
const (
	updOK    = 1
	updGone  = 0
	updRaced = -1 // the guard field changed since it was read
)

// update sets some fields of an existing webhook (updateWebhookScript) and,
// when its events change from old to now, moves its type index entries.
// With guard set, only if that stored field still equals expected.
func (s *webhookStore) update(ctx context.Context, acct, id string, old, now []string, guard, expected string, kv ...any) (int, error) {
	keys := []string{s.keys.Webhook(acct, id)}
	leave := 0
	for _, e := range old {
		if !slices.Contains(now, e) {
			keys = append(keys, s.keys.WebhooksByType(acct, e))
			leave++
		}
	}
	for _, e := range now {
		if !slices.Contains(old, e) {
			keys = append(keys, s.keys.WebhooksByType(acct, e))
		}
	}
	n, err := updateWebhookScript.Run(ctx, s.rdb, keys, append([]any{id, guard, expected, leave}, kv...)...).Int()
	if err != nil {
		return 0, fmt.Errorf("outbound: update webhook %s: %w", id, err)
	}
	return n, nil
}

// setFields updates some fields of an existing webhook; false means it is gone.
func (s *webhookStore) setFields(ctx context.Context, acct, id string, kv ...any) (bool, error) {
	n, err := s.update(ctx, acct, id, nil, nil, "", "", kv...)
	return n == updOK, err
}

// compareAndSet sets each field of (field, expected, new) triples whose
// stored value still equals expected (compareAndSetScript), and reports
// which it set.
func (s *webhookStore) compareAndSet(ctx context.Context, acct, id string, triples ...any) ([]bool, error) {
	res, err := compareAndSetScript.Run(ctx, s.rdb, []string{s.keys.Webhook(acct, id)}, triples...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("outbound: update webhook %s: %w", id, err)
	}
	out := make([]bool, len(res))
	for i, r := range res {
		out[i] = r == 1
	}
	return out, nil
}

// count is how many webhooks the account has.
func (s *webhookStore) count(ctx context.Context, acct string) (int64, error) {
	return s.rdb.ZCard(ctx, s.keys.Webhooks(acct)).Result()
}

// get reads one webhook; a missing one is apperr not found.
func (s *webhookStore) get(ctx context.Context, acct, id string) (Webhook, error) {
	m, err := s.loadRecord(ctx, s.keys.Webhook(acct, id), "webhook", id)
	if err != nil {
		return Webhook{}, err
	}
	return webhookFrom(acct, m), nil
}

// loadRecord reads one HASH; an empty one (absent or expired) is apperr not
// found for what. It is how every single webhook and delivery is read.
func (s *webhookStore) loadRecord(ctx context.Context, key, what, id string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("outbound: load %s %s: %w", what, id, err)
	}
	if len(m) == 0 {
		return nil, apperr.NotFound(what)
	}
	return m, nil
}

// list reads one page of the account's webhooks, newest first.
func (s *webhookStore) list(ctx context.Context, acct, after string, limit int) ([]Webhook, string, error) {
	return store.Page(ctx, s.rdb, s.keys.Webhooks(acct), after, limit,
		func(id string) string { return s.keys.Webhook(acct, id) },
		func(m map[string]string) Webhook { return webhookFrom(acct, m) })
}

// subscribers reads the webhooks subscribed to typ, active or not, with
// only what fan-out needs (ID, Active, OwnerID, Credential, URL), in one
// round trip (subscribersScript).
func (s *webhookStore) subscribers(ctx context.Context, acct, typ string) ([]Webhook, error) {
	pre, post := around(s.keys.Webhook(acct, idMark))
	vals, err := subscribersScript.Run(ctx, s.rdb, []string{s.keys.WebhooksByType(acct, typ)}, pre, post).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("outbound: subscribers of %s: %w", typ, err)
	}
	out := make([]Webhook, 0, len(vals)/5)
	for i := 0; i+4 < len(vals); i += 5 {
		out = append(out, Webhook{ID: vals[i], AccountID: acct, Active: vals[i+1] == "1", OwnerID: vals[i+2], Credential: vals[i+3], URL: vals[i+4]})
	}
	return out, nil
}

// delete removes a webhook and its index entries. Its deliveries stay in
// the log until they expire; pending ones fail when their task runs.
func (s *webhookStore) delete(ctx context.Context, w Webhook) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.keys.Webhook(w.AccountID, w.ID))
		p.ZRem(ctx, s.keys.Webhooks(w.AccountID), w.ID)
		for _, e := range w.Events {
			p.SRem(ctx, s.keys.WebhooksByType(w.AccountID, e), w.ID)
		}
		p.Del(ctx, s.keys.DeliveriesByWebhook(w.AccountID, w.ID))
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbound: delete webhook %s: %w", w.ID, err)
	}
	return nil
}

// accounts lists every account id, for the reconciler.
func (s *webhookStore) accounts(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, s.keys.Accounts()).Result()
}

// noteOutcome keeps the webhook's run of consecutive failed deliveries
// (noteOutcomeScript) and reports whether this outcome disabled it.
func (s *webhookStore) noteOutcome(ctx context.Context, acct, id string, ok bool, limit int, now time.Time, reason string) (bool, error) {
	o := "fail"
	if ok {
		o = "ok"
	}
	n, err := noteOutcomeScript.Run(ctx, s.rdb, []string{s.keys.Webhook(acct, id)}, o, limit, store.MS(now), reason).Int()
	if err != nil {
		return false, fmt.Errorf("outbound: note outcome for %s: %w", id, err)
	}
	return n == 1, nil
}
