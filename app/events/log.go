package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/store"
)

// Options bound the log; zero values mean the defaults.
type Options struct {
	// Retention is how long events are kept. Zero means 30 days.
	Retention time.Duration
	// Max is how many events an account keeps. Zero means 10,000.
	Max int
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// MaxDataSize bounds a published event's data.
const MaxDataSize = 256 << 10

// Log is the account's event log and the core's Emitter.
type Log struct {
	rdb     redis.UniversalClient
	keys    store.Keys
	catalog *catalog.Service
	opts    Options
	next    atomic.Pointer[Emitter]
}

// NewLog returns a Log.
func NewLog(rdb redis.UniversalClient, keys store.Keys, cat *catalog.Service, opts Options) *Log {
	if opts.Retention == 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.Max == 0 {
		opts.Max = 10_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Log{rdb: rdb, keys: keys, catalog: cat, opts: opts}
}

// Forward sets the Emitter each recorded event is passed to.
func (l *Log) Forward(e Emitter) { l.next.Store(&e) }

// The stored form is a HASH: "envelope" holds the envelope's JSON exactly as
// deliveries send it (encoded once, at emit), the other fields its cause.
var recordFields = []string{"envelope", "chain", "hop", "key_id", "endpoint", "resource"}

func fromRecord(vals []any) (Event, []byte, bool) {
	str := func(i int) string { s, _ := vals[i].(string); return s }
	env := str(0)
	if env == "" {
		return Event{}, nil, false
	}
	var ev Event
	if err := json.Unmarshal([]byte(env), &ev); err != nil {
		return Event{}, nil, false
	}
	hop, _ := strconv.Atoi(str(2))
	ev.Cause = Cause{Chain: str(1), Hop: hop, KeyID: str(3), Endpoint: str(4), Resource: str(5)}
	return ev, []byte(env), true
}

// New fills an event's id and time, for emitters.
func (l *Log) New(acct, typ string, data json.RawMessage, cause Cause) Event {
	now := l.opts.Now().UTC().Truncate(time.Millisecond)
	if cause.Chain == "" {
		cause.Chain = ids.New(ids.Chain, now)
	}
	return Event{ID: ids.New(ids.Event, now), Type: typ, CreatedAt: now, AccountID: acct, Data: data, Cause: cause}
}

// Emit records ev in the log, trims the log to its bounds, then forwards ev.
// Trimming works on the sorted indexes (no scans): by rank for the count
// bound and by id range for the age bound, since ids sort by time.
//
// The event enters the account's outbox in the same transaction that
// records it and leaves once the next Emitter accepted it, so a crash or a
// Redis error between the two loses nothing: ReconcileOutbox hands it on
// later (fan-out is idempotent).
func (l *Log) Emit(ctx context.Context, ev Event) error {
	n := l.next.Load()
	if err := l.record(ctx, ev, n != nil); err != nil {
		return err
	}
	if n == nil {
		return nil
	}
	return l.forward(ctx, *n, ev)
}

func (l *Log) forward(ctx context.Context, next Emitter, ev Event) error {
	if err := next.Emit(ctx, ev); err != nil {
		return err
	}
	if err := l.rdb.ZRem(ctx, l.keys.Outbox(ev.AccountID), ev.ID).Err(); err != nil {
		return fmt.Errorf("events: clear outbox %s: %w", ev.ID, err)
	}
	return nil
}

// ReconcileOutbox hands on the events that stayed in their account's
// outbox for longer than grace, and returns how many it handed on.
func (l *Log) ReconcileOutbox(ctx context.Context, accounts []string, grace time.Duration) (int, error) {
	n := l.next.Load()
	if n == nil {
		return 0, nil
	}
	cutoff := l.opts.Now().Add(-grace).UnixMilli()
	done := 0
	for _, acct := range accounts {
		stuck, err := l.rdb.ZRangeByScore(ctx, l.keys.Outbox(acct), &redis.ZRangeBy{
			Min: "-inf", Max: strconv.FormatInt(cutoff, 10), Count: 500,
		}).Result()
		if err != nil {
			return done, fmt.Errorf("events: read outbox: %w", err)
		}
		for _, id := range stuck {
			ev, err := l.Get(ctx, acct, id)
			if apperr.IsCode(err, apperr.CodeNotFound) {
				_ = l.rdb.ZRem(ctx, l.keys.Outbox(acct), id).Err() // past retention
				continue
			}
			if err != nil {
				return done, err
			}
			if err := l.forward(ctx, *n, ev); err != nil {
				return done, err
			}
			done++
		}
	}
	return done, nil
}

// Record stores ev in the log without forwarding it, for events that go to
// one subscription only (webhook tests).
func (l *Log) Record(ctx context.Context, ev Event) error { return l.record(ctx, ev, false) }

func (l *Log) record(ctx context.Context, ev Event, outbox bool) error {
	c := ev.Cause
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("events: encode %s: %w", ev.ID, err)
	}
	floor := "(" + ids.Floor(ids.Event, l.opts.Now().Add(-l.opts.Retention))
	all, byType := l.keys.Events(ev.AccountID), l.keys.EventsByType(ev.AccountID, ev.Type)
	indexes := []string{all, byType}
	if c.Resource != "" {
		indexes = append(indexes, l.keys.EventsByResource(ev.AccountID, c.Resource))
	}
	_, err = l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		k := l.keys.Event(ev.AccountID, ev.ID)
		p.HSet(ctx, k, "envelope", raw, "chain", c.Chain, "hop", c.Hop, "key_id", c.KeyID,
			"endpoint", c.Endpoint, "resource", c.Resource)
		p.Expire(ctx, k, l.opts.Retention)
		for _, idx := range indexes {
			p.ZAdd(ctx, idx, redis.Z{Member: ev.ID})
			p.ZRemRangeByRank(ctx, idx, 0, int64(-l.opts.Max-1))
			p.ZRemRangeByLex(ctx, idx, "-", floor)
		}
		if c.Resource != "" {
			p.Expire(ctx, indexes[2], l.opts.Retention)
		}
		if outbox {
			p.ZAdd(ctx, l.keys.Outbox(ev.AccountID), redis.Z{Score: float64(ev.CreatedAt.UnixMilli()), Member: ev.ID})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("events: record %s: %w", ev.ID, err)
	}
	return nil
}

// Get returns one event of the account, or not found.
func (l *Log) Get(ctx context.Context, acct, id string) (Event, error) {
	ev, _, err := l.Envelope(ctx, acct, id)
	return ev, err
}

// Envelope returns an event and its envelope JSON as stored, or not found.
func (l *Log) Envelope(ctx context.Context, acct, id string) (Event, []byte, error) {
	return l.EnvelopeFrom(l.QueueEnvelope(ctx, l.rdb, acct, id))
}

// QueueEnvelope queues the read of an event on a pipeline (or runs it on a
// client); EnvelopeFrom decodes the result. Deliveries use the pair to read
// the event in the same round trip as their own records.
func (l *Log) QueueEnvelope(ctx context.Context, c redis.Cmdable, acct, id string) *redis.SliceCmd {
	return c.HMGet(ctx, l.keys.Event(acct, id), recordFields...)
}

// EnvelopeFrom decodes what QueueEnvelope read.
func (l *Log) EnvelopeFrom(cmd *redis.SliceCmd) (Event, []byte, error) {
	vals, err := cmd.Result()
	if err != nil {
		return Event{}, nil, fmt.Errorf("events: load event: %w", err)
	}
	ev, env, ok := fromRecord(vals)
	if !ok {
		return Event{}, nil, apperr.NotFound("event")
	}
	return ev, env, nil
}

// Recent returns up to limit of the account's events, newest first, of one
// type when typ is not empty, continuing after the id after.
func (l *Log) Recent(ctx context.Context, acct, typ, after string, limit int) ([]Event, string, error) {
	idx := l.keys.Events(acct)
	if typ != "" {
		idx = l.keys.EventsByType(acct, typ)
	}
	page, next, err := store.PageDesc(ctx, l.rdb, idx, after, limit)
	if err != nil || len(page) == 0 {
		return []Event{}, "", err
	}
	p := l.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(page))
	for i, id := range page {
		cmds[i] = p.HMGet(ctx, l.keys.Event(acct, id), recordFields...)
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, "", fmt.Errorf("events: load page: %w", err)
	}
	out := make([]Event, 0, len(cmds))
	for _, c := range cmds {
		if ev, _, ok := fromRecord(c.Val()); ok { // absent: expired between index and read
			out = append(out, ev)
		}
	}
	return out, next, nil
}

// ByResource returns the events about one resource made at or after since,
// oldest first. The loop guard reads the states recently sent out from it.
func (l *Log) ByResource(ctx context.Context, acct, resource string, since time.Time) ([]Event, error) {
	idList, err := l.rdb.ZRangeByLex(ctx, l.keys.EventsByResource(acct, resource), &redis.ZRangeBy{
		Min: "[" + ids.Floor(ids.Event, since), Max: "+",
	}).Result()
	if err != nil || len(idList) == 0 {
		return nil, err
	}
	p := l.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(idList))
	for i, id := range idList {
		cmds[i] = p.HMGet(ctx, l.keys.Event(acct, id), recordFields...)
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("events: load events of %s: %w", resource, err)
	}
	out := make([]Event, 0, len(cmds))
	for _, c := range cmds {
		if ev, _, ok := fromRecord(c.Val()); ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// List is Recent for a caller: a type filter needs that type's read
// permission; without one, events the caller may not read are left out.
func (l *Log) List(ctx context.Context, p auth.Principal, typ, after string, limit int) ([]Event, string, error) {
	if typ != "" {
		t, err := l.catalog.Get(ctx, p.AccountID, typ)
		if err != nil {
			if apperr.IsCode(err, apperr.CodeNotFound) {
				return nil, "", apperr.InvalidField("type", "is not an event type in the catalog")
			}
			return nil, "", err
		}
		if err := p.Require(t.Permission); err != nil {
			return nil, "", err
		}
	}
	evs, next, err := l.Recent(ctx, p.AccountID, typ, after, limit)
	if err != nil || typ != "" {
		return evs, next, err
	}
	allowed := map[string]bool{}
	out := evs[:0]
	for _, ev := range evs {
		ok, seen := allowed[ev.Type]
		if !seen {
			t, err := l.catalog.Get(ctx, p.AccountID, ev.Type)
			ok = err == nil && p.Has(t.Permission)
			allowed[ev.Type] = ok
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out, next, nil
}

// Publish records and delivers an event the host app announces. The caller
// needs publish:event; the type must be one of the account's own catalog
// types (customer.* events come from the customer API); data must be a JSON
// object of at most 256 KiB.
func (l *Log) Publish(ctx context.Context, p auth.Principal, typ string, data json.RawMessage, cause Cause) (Event, error) {
	if err := p.Require(perm.PublishEvent); err != nil {
		return Event{}, err
	}
	var fields []apperr.FieldError
	t, err := l.catalog.Get(ctx, p.AccountID, typ)
	switch {
	case typ == "":
		fields = append(fields, apperr.FieldError{Field: "type", Message: "is required"})
	case apperr.IsCode(err, apperr.CodeNotFound):
		fields = append(fields, apperr.FieldError{Field: "type", Message: "is not an event type in the catalog; register it with POST /v1/event-types"})
	case err != nil:
		return Event{}, err
	case t.BuiltIn:
		fields = append(fields, apperr.FieldError{Field: "type", Message: "built-in types are emitted by Hookline itself"})
	}
	trimmed := strings.TrimSpace(string(data))
	switch {
	case len(data) > MaxDataSize:
		return Event{}, apperr.TooLarge("data is larger than the 256 KiB limit")
	case len(trimmed) == 0 || trimmed[0] != '{':
		fields = append(fields, apperr.FieldError{Field: "data", Message: "must be a JSON object"})
	}
	if len(fields) > 0 {
		return Event{}, apperr.Invalid(fields...)
	}
	cause.KeyID = p.KeyID
	ev := l.New(p.AccountID, typ, data, cause)
	if err := l.Emit(ctx, ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}
