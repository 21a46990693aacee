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

	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/store"
)

// DeliveryID is the one id of the delivery of an event to a webhook, so a
// repeated fan-out finds the delivery it already made.
func DeliveryID(eventID, webhookID string, eventTime time.Time) string {
	return ids.Derive(ids.Delivery, eventTime, eventID+"/"+webhookID)
}

func deliveryFrom(acct string, m map[string]string) Delivery {
	atoi := func(k string) int { n, _ := strconv.Atoi(m[k]); return n }
	return Delivery{
		ID: m["id"], AccountID: acct, WebhookID: m["webhook_id"], EventID: m["event_id"], EventType: m["event_type"],
		URL: m["url"], Status: m["status"], Attempts: atoi("attempts"), LastStatusCode: atoi("last_status_code"),
		LastError: m["last_error"], CreatedAt: store.Time(m["created_at"]), NextAttemptAt: store.Time(m["next_attempt_at"]),
		Gen: atoi("gen"), Test: m["test"] == "1",
	}
}

// createDeliveries writes each pending delivery ds[i] to webhook ws[i]
// unless it exists (createDeliveryScript), in one round trip, and reports
// which it created. ttl and max bound the webhook's log, floor is the
// oldest delivery id kept.
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
		dPre, dPost := around(s.keys.Delivery(d.AccountID, idMark))
		aPre, aPost := around(s.keys.Attempts(d.AccountID, idMark))
		cmds[i] = createDeliveryScript.EvalSha(ctx, p,
			[]string{s.keys.Delivery(d.AccountID, d.ID), s.keys.DeliveriesByWebhook(d.AccountID, d.WebhookID), s.keys.Due(d.AccountID),
				s.keys.EventReceivers(d.AccountID, d.EventID)},
			d.ID, int64(ttl.Seconds()), max, "("+floor, store.MS(d.NextAttemptAt), ws[i].ID+" "+credentialField(ws[i].Credential)+" "+ws[i].OwnerID,
			dPre, dPost, aPre, aPost,
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

// idMark stands for an id in a key that store.Keys builds, so a script can
// build the same key for ids it finds itself (around).
const idMark = "\x00"

// around splits a key built with idMark into what comes before and after the id.
func around(key string) (string, string) {
	pre, post, _ := strings.Cut(key, idMark)
	return pre, post
}

// delivery reads one delivery; a missing (or expired) one is apperr not found.
func (s *webhookStore) delivery(ctx context.Context, acct, id string) (Delivery, error) {
	m, err := s.loadRecord(ctx, s.keys.Delivery(acct, id), "delivery", id)
	if err != nil {
		return Delivery{}, err
	}
	return deliveryFrom(acct, m), nil
}

// attempts reads a delivery's attempt log, oldest first.
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
		keys := make([]string, len(page))
		for i, id := range page {
			keys[i] = s.keys.Delivery(acct, id)
		}
		ms, err := store.LoadHashes(ctx, s.rdb, keys)
		if err != nil {
			return nil, "", fmt.Errorf("outbound: list deliveries: %w", err)
		}
		// Not store.Page: the filter may stop mid-page, and the cursor must
		// then be the last entry looked at, kept or not.
		for i, m := range ms {
			scanned++
			cursor = page[i]
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

// record stores an attempt's outcome (recordScript) if the delivery is
// still on generation gen; false means a newer generation took over.
// The delivery's url becomes the one the attempt was sent to, when it was
// sent: the log shows where the event actually went.
func (s *webhookStore) record(ctx context.Context, d Delivery, gen int, att []byte, sentTo string, ttl time.Duration) (bool, error) {
	next := store.MS(d.NextAttemptAt)
	kv := []any{"status", d.Status, "attempts", d.Attempts, "last_status_code", d.LastStatusCode, "last_error", d.LastError,
		"next_attempt_at", next, "gen", d.Gen}
	if sentTo != "" {
		kv = append(kv, "url", sentTo)
	}
	n, err := recordScript.Run(ctx, s.rdb,
		[]string{s.keys.Delivery(d.AccountID, d.ID), s.keys.Attempts(d.AccountID, d.ID), s.keys.Due(d.AccountID)},
		append([]any{gen, att, int64(ttl.Seconds()), next, d.ID}, kv...)...).Int()
	if err != nil {
		return false, fmt.Errorf("outbound: record attempt of %s: %w", d.ID, err)
	}
	return n == 1, nil
}

// reschedule moves a delivery to generation toGen, due at next, when it is
// still on fromGen (rescheduleScript); false means it moved on or is gone.
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

// dropDue takes a finished or expired delivery out of the due set.
func (s *webhookStore) dropDue(ctx context.Context, acct, id string) error {
	return s.rdb.ZRem(ctx, s.keys.Due(acct), id).Err()
}

// receivers reads who an event was fanned out to: entries of
// "<webhook id> <credential or -> <owner id>", written by createDeliveryScript.
func (s *webhookStore) receivers(ctx context.Context, acct, evt string) ([]Receiver, error) {
	members, err := s.rdb.SMembers(ctx, s.keys.EventReceivers(acct, evt)).Result()
	if err != nil {
		return nil, fmt.Errorf("outbound: receivers of %s: %w", evt, err)
	}
	out := make([]Receiver, 0, len(members))
	for _, m := range members {
		f := strings.Fields(m)
		if len(f) == 3 {
			cred := f[1]
			if cred == "-" {
				cred = ""
			}
			out = append(out, Receiver{WebhookID: f[0], Credential: cred, OwnerID: f[2]})
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

// acquireInFlight takes one of the account's in-flight slots as a lease of
// length ttl (inFlightAcquireScript); false means the account is at max.
func (s *webhookStore) acquireInFlight(ctx context.Context, acct, lease string, max int, ttl time.Duration) (bool, error) {
	n, err := inFlightAcquireScript.Run(ctx, s.rdb, []string{s.keys.InFlight(acct)}, max, ttl.Milliseconds(), lease).Int()
	if err != nil {
		return false, fmt.Errorf("outbound: in-flight slot of %s: %w", acct, err)
	}
	return n == 1, nil
}

// releaseInFlight gives a lease back before it expires.
func (s *webhookStore) releaseInFlight(ctx context.Context, acct, lease string) error {
	return s.rdb.ZRem(ctx, s.keys.InFlight(acct), lease).Err()
}
