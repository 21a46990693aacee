package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/store"
)

type webhookStore struct {
	rdb  redis.UniversalClient
	keys store.Keys
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func webhookFields(w Webhook) []any {
	hdr, _ := json.Marshal(w.Headers)
	sched := make([]string, len(w.RetrySchedule))
	for i, d := range w.RetrySchedule {
		sched[i] = strconv.FormatInt(d.Milliseconds(), 10)
	}
	return []any{
		"id", w.ID, "owner_id", w.OwnerID, "credential", w.Credential, "source", w.Source, "name", w.Name,
		"url", w.URL, "method", w.Method, "events", strings.Join(w.Events, ","),
		"auth_type", w.Auth.Type, "auth_username", w.Auth.Username, "auth_secret", w.Auth.Secret,
		"headers", string(hdr), "retry_schedule", strings.Join(sched, ","),
		"timeout_ms", w.Timeout.Milliseconds(), "rate_limit", strconv.FormatFloat(w.RateLimit, 'f', -1, 64),
		"active", boolStr(w.Active), "disabled_reason", w.DisabledReason, "disabled_at", store.MS(w.DisabledAt),
		"consecutive_failures", w.ConsecutiveFailures,
		"secret", w.Secret, "prev_secret", w.PrevSecret, "prev_secret_until", store.MS(w.PrevSecretUntil),
		"created_at", store.MS(w.CreatedAt), "updated_at", store.MS(w.UpdatedAt),
	}
}

func webhookFrom(acct string, m map[string]string) Webhook {
	w := Webhook{
		ID: m["id"], AccountID: acct, OwnerID: m["owner_id"], Credential: m["credential"], Source: m["source"],
		Name: m["name"], URL: m["url"], Method: m["method"],
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
	w.ConsecutiveFailures, _ = strconv.Atoi(m["consecutive_failures"])
	return w
}

// save writes a whole webhook and moves its type index entries from old's
// events to w's, in one transaction.
func (s *webhookStore) save(ctx context.Context, old, w Webhook) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keys.Webhook(w.AccountID, w.ID), webhookFields(w)...)
		p.ZAdd(ctx, s.keys.Webhooks(w.AccountID), redis.Z{Member: w.ID})
		for _, e := range old.Events {
			if !w.Subscribes(e) {
				p.SRem(ctx, s.keys.WebhooksByType(w.AccountID, e), w.ID)
			}
		}
		for _, e := range w.Events {
			p.SAdd(ctx, s.keys.WebhooksByType(w.AccountID, e), w.ID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbound: save webhook %s: %w", w.ID, err)
	}
	return nil
}

// setFields updates some fields of an existing webhook, if it still exists.
// KEYS[1] webhook HASH; ARGV field/value pairs. Returns 0 when gone.
var setFieldsScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`)

func (s *webhookStore) setFields(ctx context.Context, acct, id string, kv ...any) (bool, error) {
	n, err := setFieldsScript.Run(ctx, s.rdb, []string{s.keys.Webhook(acct, id)}, kv...).Int()
	if err != nil {
		return false, fmt.Errorf("outbound: update webhook %s: %w", id, err)
	}
	return n == 1, nil
}

func (s *webhookStore) get(ctx context.Context, acct, id string) (Webhook, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.Webhook(acct, id)).Result()
	if err != nil {
		return Webhook{}, fmt.Errorf("outbound: load webhook %s: %w", id, err)
	}
	if len(m) == 0 {
		return Webhook{}, apperr.NotFound("webhook")
	}
	return webhookFrom(acct, m), nil
}

func (s *webhookStore) getMany(ctx context.Context, acct string, idList []string) ([]Webhook, error) {
	if len(idList) == 0 {
		return nil, nil
	}
	p := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(idList))
	for i, id := range idList {
		cmds[i] = p.HGetAll(ctx, s.keys.Webhook(acct, id))
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("outbound: load webhooks: %w", err)
	}
	out := make([]Webhook, 0, len(cmds))
	for _, c := range cmds {
		if m := c.Val(); len(m) > 0 {
			out = append(out, webhookFrom(acct, m))
		}
	}
	return out, nil
}

func (s *webhookStore) list(ctx context.Context, acct, after string, limit int) ([]Webhook, string, error) {
	page, next, err := store.PageDesc(ctx, s.rdb, s.keys.Webhooks(acct), after, limit)
	if err != nil {
		return nil, "", err
	}
	ws, err := s.getMany(ctx, acct, page)
	return ws, next, err
}

func (s *webhookStore) subscribers(ctx context.Context, acct, typ string) ([]Webhook, error) {
	idList, err := s.rdb.SMembers(ctx, s.keys.WebhooksByType(acct, typ)).Result()
	if err != nil {
		return nil, fmt.Errorf("outbound: subscribers of %s: %w", typ, err)
	}
	return s.getMany(ctx, acct, idList)
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

// ---- deliveries

func deliveryFrom(acct string, m map[string]string) Delivery {
	atoi := func(k string) int { n, _ := strconv.Atoi(m[k]); return n }
	return Delivery{
		ID: m["id"], AccountID: acct, WebhookID: m["webhook_id"], EventID: m["event_id"], EventType: m["event_type"],
		URL: m["url"], Status: m["status"], Attempts: atoi("attempts"), LastStatusCode: atoi("last_status_code"),
		LastError: m["last_error"], CreatedAt: store.Time(m["created_at"]), NextAttemptAt: store.Time(m["next_attempt_at"]),
		Gen: atoi("gen"), Test: m["test"] == "1",
	}
}

// createDeliveryScript creates a pending delivery unless it exists, indexes
// it under its webhook (trimmed to the count and age bounds), marks it due
// and notes its receiver under the event, for the loop guard.
// KEYS[1] delivery HASH, KEYS[2] webhook's deliveries ZSET, KEYS[3] due ZSET,
// KEYS[4] the event's receivers SET.
// ARGV[1] id, ARGV[2] ttl seconds, ARGV[3] max per webhook, ARGV[4] age floor
// id (exclusive "(" form), ARGV[5] next attempt ms, ARGV[6] receiver
// ("whk key usr"), ARGV[7…] field/value pairs.
// Returns 1 when created, 0 when it already existed.
var createDeliveryScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SADD', KEYS[4], ARGV[6])
redis.call('EXPIRE', KEYS[4], ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[3]) - 1)
redis.call('ZREMRANGEBYLEX', KEYS[2], '-', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
return 1
`)

func (s *webhookStore) createDeliveries(ctx context.Context, ds []Delivery, ws []Webhook, ttl time.Duration, max int, floor string) ([]bool, error) {
	created, err := s.createDeliveriesOnce(ctx, ds, ws, ttl, max, floor)
	if err != nil && strings.Contains(err.Error(), "NOSCRIPT") {
		// A pipeline cannot fall back from EVALSHA to EVAL by itself: load the
		// script and run again; the script skips deliveries that exist.
		if lerr := createDeliveryScript.Load(ctx, s.rdb).Err(); lerr != nil {
			return nil, fmt.Errorf("outbound: load script: %w", lerr)
		}
		created, err = s.createDeliveriesOnce(ctx, ds, ws, ttl, max, floor)
	}
	return created, err
}

func (s *webhookStore) createDeliveriesOnce(ctx context.Context, ds []Delivery, ws []Webhook, ttl time.Duration, max int, floor string) ([]bool, error) {
	p := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(ds))
	for i, d := range ds {
		cmds[i] = createDeliveryScript.EvalSha(ctx, p,
			[]string{s.keys.Delivery(d.AccountID, d.ID), s.keys.DeliveriesByWebhook(d.AccountID, d.WebhookID), s.keys.Due(d.AccountID),
				s.keys.EventReceivers(d.AccountID, d.EventID)},
			d.ID, int64(ttl.Seconds()), max, "("+floor, store.MS(d.NextAttemptAt), ws[i].ID+" "+credentialField(ws[i].Credential)+" "+ws[i].OwnerID,
			"id", d.ID, "webhook_id", d.WebhookID, "event_id", d.EventID, "event_type", d.EventType, "url", d.URL,
			"status", d.Status, "attempts", 0, "last_status_code", 0, "last_error", "",
			"created_at", store.MS(d.CreatedAt), "next_attempt_at", store.MS(d.NextAttemptAt), "gen", d.Gen, "test", boolStr(d.Test))
	}
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("outbound: create deliveries: %w", err)
	}
	created := make([]bool, len(ds))
	for i, c := range cmds {
		n, _ := c.Int()
		created[i] = n == 1
	}
	return created, nil
}

func (s *webhookStore) delivery(ctx context.Context, acct, id string) (Delivery, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.Delivery(acct, id)).Result()
	if err != nil {
		return Delivery{}, fmt.Errorf("outbound: load delivery %s: %w", id, err)
	}
	if len(m) == 0 {
		return Delivery{}, apperr.NotFound("delivery")
	}
	return deliveryFrom(acct, m), nil
}

func (s *webhookStore) attempts(ctx context.Context, acct, id string) ([]Attempt, error) {
	raws, err := s.rdb.LRange(ctx, s.keys.Attempts(acct, id), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("outbound: load attempts of %s: %w", id, err)
	}
	out := make([]Attempt, 0, len(raws))
	for _, r := range raws {
		var a Attempt
		if err := json.Unmarshal([]byte(r), &a); err != nil {
			return nil, fmt.Errorf("outbound: decode attempt of %s: %w", id, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// deliveries reads a webhook's deliveries newest first, keeping those that
// match keep, scanning at most scanMax index entries to fill a page.
func (s *webhookStore) deliveries(ctx context.Context, acct, whk, after string, limit int, keep func(Delivery) bool) ([]Delivery, string, error) {
	const scanMax = 2000
	var out []Delivery
	cursor := after
	for scanned := 0; len(out) < limit && scanned < scanMax; {
		page, next, err := store.PageDesc(ctx, s.rdb, s.keys.DeliveriesByWebhook(acct, whk), cursor, limit)
		if err != nil {
			return nil, "", err
		}
		if len(page) == 0 {
			return out, "", nil
		}
		p := s.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(page))
		for i, id := range page {
			cmds[i] = p.HGetAll(ctx, s.keys.Delivery(acct, id))
		}
		if _, err := p.Exec(ctx); err != nil {
			return nil, "", fmt.Errorf("outbound: list deliveries: %w", err)
		}
		for i, c := range cmds {
			scanned++
			cursor = page[i]
			m := c.Val()
			if len(m) == 0 {
				continue // expired
			}
			if d := deliveryFrom(acct, m); keep(d) {
				out = append(out, d)
				if len(out) == limit {
					break
				}
			}
		}
		if next == "" && cursor == page[len(page)-1] {
			return out, "", nil
		}
	}
	return out, cursor, nil
}

// loadAttempt reads what an attempt needs in one round trip: the delivery
// and webhook records, plus whatever extra queues on the same pipeline (the
// event, read by the event log). Empty maps mean absent records.
func (s *webhookStore) loadAttempt(ctx context.Context, acct, dlv, whk string, extra func(redis.Pipeliner) *redis.SliceCmd) (map[string]string, map[string]string, *redis.SliceCmd, error) {
	pipe := s.rdb.Pipeline()
	dc := pipe.HGetAll(ctx, s.keys.Delivery(acct, dlv))
	wc := pipe.HGetAll(ctx, s.keys.Webhook(acct, whk))
	ec := extra(pipe)
	_, _ = pipe.Exec(ctx) // per-command errors are read below
	if dc.Err() != nil || wc.Err() != nil {
		return nil, nil, nil, fmt.Errorf("outbound: load delivery %s: %w", dlv, errors.Join(dc.Err(), wc.Err()))
	}
	return dc.Val(), wc.Val(), ec, nil
}

// recordScript stores an attempt's outcome if the delivery is still on the
// generation that ran it.
// KEYS[1] delivery HASH, KEYS[2] attempts LIST, KEYS[3] due ZSET.
// ARGV[1] expected gen, ARGV[2] attempt JSON, ARGV[3] ttl seconds,
// ARGV[4] next attempt ms (0: none, leave due), ARGV[5] delivery id,
// ARGV[6…] field/value pairs. Returns 1 when stored, 0 when stale.
var recordScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if ARGV[4] == '0' then
  redis.call('ZREM', KEYS[3], ARGV[5])
else
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
end
return 1
`)

func (s *webhookStore) record(ctx context.Context, d Delivery, gen int, att []byte, ttl time.Duration) (bool, error) {
	next := store.MS(d.NextAttemptAt)
	n, err := recordScript.Run(ctx, s.rdb,
		[]string{s.keys.Delivery(d.AccountID, d.ID), s.keys.Attempts(d.AccountID, d.ID), s.keys.Due(d.AccountID)},
		gen, att, int64(ttl.Seconds()), next, d.ID,
		"status", d.Status, "attempts", d.Attempts, "last_status_code", d.LastStatusCode, "last_error", d.LastError,
		"next_attempt_at", next, "gen", d.Gen).Int()
	if err != nil {
		return false, fmt.Errorf("outbound: record attempt of %s: %w", d.ID, err)
	}
	return n == 1, nil
}

// reschedule moves a delivery to a new generation due at next, when it is
// still on gen (or pending with any gen, when gen is -1).
// KEYS[1] delivery HASH, KEYS[2] due ZSET. ARGV[1] expected gen or -1,
// ARGV[2] new gen, ARGV[3] next ms, ARGV[4] id, ARGV[5] status to set.
// Returns 1 when moved.
var rescheduleScript = redis.NewScript(`
local g = redis.call('HGET', KEYS[1], 'gen')
if not g then return 0 end
if ARGV[1] ~= '-1' and g ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'gen', ARGV[2], 'next_attempt_at', ARGV[3], 'status', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
`)

func (s *webhookStore) reschedule(ctx context.Context, acct, id string, fromGen, toGen int, next time.Time) (bool, error) {
	n, err := rescheduleScript.Run(ctx, s.rdb, []string{s.keys.Delivery(acct, id), s.keys.Due(acct)},
		fromGen, toGen, store.MS(next), id, StatusPending).Int()
	if err != nil {
		return false, fmt.Errorf("outbound: reschedule %s: %w", id, err)
	}
	return n == 1, nil
}

// due returns up to n of the account's pending deliveries due before t.
func (s *webhookStore) due(ctx context.Context, acct string, before time.Time, n int64) ([]string, error) {
	return s.rdb.ZRangeByScore(ctx, s.keys.Due(acct), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(before.UnixMilli(), 10), Count: n,
	}).Result()
}

func (s *webhookStore) dropDue(ctx context.Context, acct, id string) error {
	return s.rdb.ZRem(ctx, s.keys.Due(acct), id).Err()
}

// receivers reads who an event was fanned out to.
func (s *webhookStore) receivers(ctx context.Context, acct, evt string) ([]Receiver, error) {
	members, err := s.rdb.SMembers(ctx, s.keys.EventReceivers(acct, evt)).Result()
	if err != nil {
		return nil, fmt.Errorf("outbound: receivers of %s: %w", evt, err)
	}
	out := make([]Receiver, 0, len(members))
	for _, m := range members {
		f := strings.Fields(m)
		if len(f) == 3 {
			out = append(out, Receiver{WebhookID: f[0], Credential: strings.TrimPrefix(f[1], "-"), OwnerID: f[2]})
		}
	}
	return out, nil
}

// credentialField keeps the space-separated receiver entry three fields
// long when a webhook has no credential.
func credentialField(c string) string {
	if c == "" {
		return "-"
	}
	return c
}

// accounts lists every account id, for the reconciler.
func (s *webhookStore) accounts(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, s.keys.Accounts()).Result()
}

// noteOutcome keeps the webhook's run of consecutive failed deliveries and
// disables it when the run reaches limit.
// KEYS[1] webhook HASH. ARGV[1] "ok" or "fail", ARGV[2] limit, ARGV[3] now
// ms, ARGV[4] reason. Returns 1 when this call disabled the webhook.
var noteOutcomeScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == 'ok' then
  redis.call('HSET', KEYS[1], 'consecutive_failures', 0)
  return 0
end
local n = redis.call('HINCRBY', KEYS[1], 'consecutive_failures', 1)
if n >= tonumber(ARGV[2]) and redis.call('HGET', KEYS[1], 'active') == '1' then
  redis.call('HSET', KEYS[1], 'active', '0', 'disabled_reason', ARGV[4], 'disabled_at', ARGV[3])
  return 1
end
return 0
`)

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

// DeliveryID is the one id of the delivery of an event to a webhook, so a
// repeated fan-out finds the delivery it already made.
func DeliveryID(eventID, webhookID string, eventTime time.Time) string {
	return ids.Derive(ids.Delivery, eventTime, eventID+"/"+webhookID)
}
