package outbound

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/events"
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
// unless it exists, in one script run (createDeliveriesScript), and
// reports which it created. Every ds[i] is of the same event, made at the
// same time (fanOut). ttl and max bound each webhook's log, floor is the
// oldest delivery id kept.
func (s *webhookStore) createDeliveries(ctx context.Context, ds []Delivery, ws []Webhook, ttl time.Duration, max int, floor string) ([]bool, error) {
	d0 := ds[0]
	dPre, dPost := around(s.keys.Delivery(d0.AccountID, idMark))
	aPre, aPost := around(s.keys.Attempts(d0.AccountID, idMark))
	keys := make([]string, 0, 2+2*len(ds))
	keys = append(keys, s.keys.Due(d0.AccountID), s.keys.Event(d0.AccountID, d0.EventID))
	args := make([]any, 0, 15+4*len(ds))
	args = append(args, int64(ttl.Seconds()), max, "("+floor, store.MS(d0.NextAttemptAt), dPre, dPost, aPre, aPost,
		d0.EventID, d0.EventType, store.MS(d0.CreatedAt), d0.Gen, boolStr(d0.Test), events.ReceiversField, events.OpenField)
	for i, d := range ds {
		keys = append(keys, s.keys.Delivery(d.AccountID, d.ID), s.keys.DeliveriesByWebhook(d.AccountID, d.WebhookID))
		args = append(args, d.ID, d.WebhookID, d.URL, ws[i].ID+" "+credentialField(ws[i].Credential)+" "+ws[i].OwnerID)
	}
	res, err := createDeliveriesScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("outbound: create deliveries: %w", err)
	}
	created := make([]bool, len(ds))
	for i := range created {
		created[i] = i < len(res) && res[i] == 1
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

// attempts reads d's attempt log, oldest first.
func (s *webhookStore) attempts(ctx context.Context, d Delivery) ([]Attempt, error) {
	raws, err := s.rdb.LRange(ctx, s.keys.Attempts(d.AccountID, d.ID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("outbound: load attempts of %s: %w", d.ID, err)
	}
	out := make([]Attempt, 0, len(raws))
	for _, r := range raws {
		a, err := decodeAttempt([]byte(r), d)
		if err != nil {
			return nil, fmt.Errorf("outbound: decode attempt of %s: %w", d.ID, err)
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

// record stores an attempt's outcome (recordScript) if the delivery is
// still on generation gen; false means a newer generation took over.
// The delivery's url becomes the one the attempt was sent to, when it was
// sent: the log shows where the event actually went. rel, when not nil,
// ends the attempt's leases in the same round trip (releaseCall).
func (s *webhookStore) record(ctx context.Context, d Delivery, gen int, att []byte, sentTo string, ttl time.Duration, rel *scriptCall) (bool, error) {
	next := store.MS(d.NextAttemptAt)
	args := []any{gen, att, int64(ttl.Seconds()), next, d.ID, events.OpenField, events.TrimmedField, "status", d.Status, "attempts", d.Attempts, "last_status_code", d.LastStatusCode,
		"last_error", d.LastError, "next_attempt_at", next, "gen", d.Gen}
	if sentTo != "" {
		args = append(args, "url", sentTo)
	}
	calls := []*scriptCall{{script: recordScript, args: args,
		keys: []string{s.keys.Delivery(d.AccountID, d.ID), s.keys.Attempts(d.AccountID, d.ID), s.keys.Due(d.AccountID),
			s.keys.Event(d.AccountID, d.EventID)}}}
	if rel != nil {
		calls = append(calls, rel)
	}
	if err := s.pipeScripts(ctx, nil, calls...); err != nil {
		return false, fmt.Errorf("outbound: record attempt of %s: %w", d.ID, err)
	}
	n, err := calls[0].cmd.Int()
	if err != nil {
		return false, fmt.Errorf("outbound: record attempt of %s: %w", d.ID, err)
	}
	return n == 1, nil
}

// reschedule moves delivery d to generation toGen, due at next, when it is
// still on fromGen (rescheduleScript); false means it moved on or is gone.
func (s *webhookStore) reschedule(ctx context.Context, d Delivery, fromGen, toGen int, next time.Time) (bool, error) {
	keys := []string{s.keys.Delivery(d.AccountID, d.ID), s.keys.Due(d.AccountID), s.keys.Event(d.AccountID, d.EventID)}
	n, err := rescheduleScript.Run(ctx, s.rdb, keys, fromGen, toGen, store.MS(next), d.ID, StatusPending, events.OpenField).Int()
	if err != nil {
		return false, fmt.Errorf("outbound: reschedule %s: %w", d.ID, err)
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

// receivers reads who an event was fanned out to: lines of "<webhook id>
// <credential or -> <owner id>" in the event's record, written by
// createDeliveriesScript, and the members of the SET that held them before
// (store.Keys.EventReceivers), in one round trip.
func (s *webhookStore) receivers(ctx context.Context, acct, evt string) ([]Receiver, error) {
	p := s.rdb.Pipeline()
	field := p.HGet(ctx, s.keys.Event(acct, evt), events.ReceiversField)
	earlier := p.SMembers(ctx, s.keys.EventReceivers(acct, evt))
	_, _ = p.Exec(ctx) // each command's own error is checked: a missing field is no error
	for _, err := range []error{field.Err(), earlier.Err()} {
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("outbound: receivers of %s: %w", evt, err)
		}
	}
	members := earlier.Val()
	if v := field.Val(); v != "" {
		members = append(members, strings.Split(v, "\n")...)
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
