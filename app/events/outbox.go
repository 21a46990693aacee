package events

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/jobs"
)

// Forward sets the emitters each recorded event is handed to, in order
// (outbound delivery first, then IFTTT realtime). Call it while wiring.
func (l *Log) Forward(es ...Emitter) {
	es = append([]Emitter(nil), es...)
	l.emitters.Store(&es)
}

func (l *Log) next() []Emitter {
	if p := l.emitters.Load(); p != nil {
		return *p
	}
	return nil
}

// Emit records ev in the log, trims the log to its bounds, then hands ev to
// every emitter. Trimming works on the sorted indexes (no scans): by rank
// for the count bound and by id range for the age bound, since ids sort by
// time.
//
// The event enters the account's outbox in the same transaction that
// records it and leaves once every emitter accepted it, so a crash or a
// Redis error between the two loses nothing: the drain loop hands it on
// later to every emitter (each is idempotent per event id). So once the
// event is recorded Emit succeeds: an emitter's failure is logged and left
// to the drain, and the caller never answers "failed" for an event that
// will be delivered (a client retrying that answer would make a second
// event).
func (l *Log) Emit(ctx context.Context, ev Event) error { return l.emit(ctx, ev, "") }

func (l *Log) emit(ctx context.Context, ev Event, scope string) error {
	es := l.next()
	if err := l.record(ctx, ev, len(es) > 0, scope); err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	if err := l.forward(ctx, es, ev); err != nil {
		l.opts.Log.Warn("events: hand-on failed; the outbox drain retries it", "event_id", ev.ID, "err", err)
	}
	return nil
}

func (l *Log) forward(ctx context.Context, es []Emitter, ev Event) error {
	for _, e := range es {
		if err := e.Emit(ctx, ev); err != nil {
			return err
		}
	}
	keys := []string{l.keys.Outbox(ev.AccountID), l.keys.Event(ev.AccountID, ev.ID)}
	if err := clearOutboxScript.Run(ctx, l.rdb, keys, ev.ID, OpenField, TrimmedField).Err(); err != nil {
		return fmt.Errorf("events: clear outbox %s: %w", ev.ID, err)
	}
	return nil
}

// clearOutboxScript takes a handed-on event out of the outbox. The log's
// bound keeps an event still in the outbox (recordScript); if it trimmed
// this one meanwhile and no delivery of it is open (no subscriber, or all
// ended already), nothing will need its record again, so it goes too.
// KEYS[1] outbox ZSET, KEYS[2] event HASH. ARGV[1] event id, ARGV[2]
// OpenField, ARGV[3] TrimmedField.
var clearOutboxScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[3]) == '1' and redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then
  redis.call('DEL', KEYS[2])
end
return 1
`)

// Jobs is the log's background work: the outbox drain loop.
func (l *Log) Jobs() jobs.Set {
	return jobs.Set{Loops: []func(context.Context){jobs.Every(l.opts.DrainEvery, l.drainOnce)}}
}

func (l *Log) drainOnce(ctx context.Context) {
	if n, err := l.DrainOutbox(ctx); err != nil {
		l.opts.Log.Warn("events: drain outbox", "err", err)
	} else if n > 0 {
		l.opts.Log.Info("events: handed on events left in the outbox", "count", n)
	}
}

// DrainOutbox hands on the events that stayed in their account's outbox
// for longer than DrainGrace, and returns how many it handed on.
func (l *Log) DrainOutbox(ctx context.Context) (int, error) {
	es := l.next()
	if len(es) == 0 {
		return 0, nil
	}
	accounts, err := l.rdb.SMembers(ctx, l.keys.Accounts()).Result()
	if err != nil {
		return 0, fmt.Errorf("events: list accounts: %w", err)
	}
	cutoff := l.opts.Now().Add(-l.opts.DrainGrace).UnixMilli()
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
			if err := l.forward(ctx, es, ev); err != nil {
				return done, err
			}
			done++
		}
	}
	return done, nil
}
