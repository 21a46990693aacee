package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/ids"
)

// Mark is how a core write tells EmitWith's transaction that it took
// effect: on success its script sets Field in the HASH Key (HSET Key Field
// 1), and the event is recorded only if the mark is there (recordScript
// takes it away again, in the same transaction). A write that changed
// nothing (an email taken, a version moved on) sets no mark and so makes no
// event.
type Mark struct{ Key, Field string }

// EmitWith runs a core write and records its event ev in one MULTI/EXEC,
// then hands ev on as Emit does. write queues the write on p; its script
// must set mark when, and only when, it changes something. It reports
// whether the event was recorded, that is whether the write took effect.
//
// Writing first and recording the event in a second round trip lost the
// event whenever the process or Redis died between the two (a failover
// test saw it: the customer was created, its customer.created never was,
// and the client's retry met "email taken"). In one transaction the write
// and its event are kept or lost together.
func (l *Log) EmitWith(ctx context.Context, ev Event, write func(p redis.Pipeliner, mark Mark)) (bool, error) {
	es := l.next()
	mark := Mark{Key: l.keys.WriteMarks(ev.AccountID), Field: ev.ID}
	keys, args, err := l.recordArgs(ev, len(es) > 0, "", &mark)
	if err != nil {
		return false, err
	}
	var rec *redis.Cmd
	_, err = l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		write(p, mark)
		// EVAL, not EVALSHA: a transaction cannot fall back when the script
		// cache was flushed.
		rec = recordScript.Eval(ctx, p, keys, args...)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("events: write and record %s: %w", ev.ID, err)
	}
	if n, _ := rec.Int(); n != 1 {
		return false, nil
	}
	if len(es) > 0 {
		if err := l.forward(ctx, es, ev); err != nil {
			l.opts.Log.Warn("events: hand-on failed; the outbox drain retries it", "event_id", ev.ID, "err", err)
		}
	}
	return true, nil
}

// record stores ev; with outbox it also enters the account's outbox, and
// with a scope it maps that idempotency scope to ev, all in one script.
func (l *Log) record(ctx context.Context, ev Event, outbox bool, scope string) error {
	keys, args, err := l.recordArgs(ev, outbox, scope, nil)
	if err != nil {
		return err
	}
	if err := recordScript.Run(ctx, l.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("events: record %s: %w", ev.ID, err)
	}
	return nil
}

func (l *Log) recordArgs(ev Event, outbox bool, scope string, mark *Mark) ([]string, []any, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return nil, nil, fmt.Errorf("events: encode %s: %w", ev.ID, err)
	}
	acct, c := ev.AccountID, ev.Cause
	keys := []string{l.keys.Event(acct, ev.ID), l.keys.Events(acct), l.keys.EventsByType(acct, ev.Type), l.keys.Outbox(acct)}
	flags := ""
	if c.Resource != "" {
		keys, flags = append(keys, l.keys.EventsByResource(acct, c.Resource)), flags+"r"
	}
	if scope != "" {
		keys, flags = append(keys, l.keys.PublishedBy(acct, scope)), flags+"s"
	}
	if mark != nil {
		keys, flags = append(keys, mark.Key), flags+"m"
	}
	if outbox {
		flags += "o"
	}
	floor := "(" + ids.Floor(ids.Event, l.opts.Now().Add(-l.opts.Retention))
	args := []any{raw, packCause(c), max(1, l.opts.Retention.Milliseconds()), l.opts.Max, floor, l.keys.EventKeyPrefix(acct),
		OpenField, TrimmedField, ev.ID, strconv.FormatInt(ev.CreatedAt.UnixMilli(), 10), flags, int64(publishedTTL.Seconds())}
	return keys, args, nil
}

// recordScript records an event: its record, its indexes (the account-wide
// one decides what the log keeps), the outbox entry and the idempotency
// scope; with a mark, only if the mark is there (EmitWith).
//
// The account-wide index is bounded by count and age, and what it trims is
// deleted (record and receivers set), so the count bound bounds memory, not
// just the index. An event trimmed while deliveries of it are still to be
// made (its record's OpenField above 0), or before it was handed on at all
// (still in the outbox), leaves the index but keeps its record, marked
// TrimmedField: the delivery engine deletes it when the last of its
// deliveries ends, the outbox clear when it had none. The other indexes
// (by type, by resource) are trimmed by range; an id they keep whose record
// is gone is skipped when read. Every key carries the account's hash tag,
// those built from ARGV[6] too.
//
// KEYS[1] event HASH, KEYS[2] events index ZSET, KEYS[3] by-type index
// ZSET, KEYS[4] outbox ZSET, then, as ARGV[11] says: "r" the by-resource
// index ZSET, "s" the scope STRING, "m" the marks HASH ("o": enter the
// outbox).
// ARGV[1] envelope, ARGV[2] packed cause, ARGV[3] retention ms (PEXPIRE:
// a retention under a second is not 0, which would delete), ARGV[4] max
// count, ARGV[5] exclusive lex floor "(evt_…", ARGV[6] event key prefix,
// ARGV[7] OpenField, ARGV[8] TrimmedField, ARGV[9] event id, ARGV[10]
// created ms, ARGV[11] flags, ARGV[12] scope ttl s.
// Returns 1 when recorded, 0 when the mark was not there.
var recordScript = redis.NewScript(`
local flags, n = ARGV[11], 5
local function has(f) return string.find(flags, f, 1, true) ~= nil end
local res, scope, mark
if has('r') then res = KEYS[n]; n = n + 1 end
if has('s') then scope = KEYS[n]; n = n + 1 end
if has('m') then mark = KEYS[n]; n = n + 1 end
if mark and redis.call('HDEL', mark, ARGV[9]) == 0 then return 0 end
local id, max = ARGV[9], tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'envelope', ARGV[1], 'cause', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if has('o') then redis.call('ZADD', KEYS[4], ARGV[10], id) end
redis.call('ZADD', KEYS[2], 0, id)
local gone = redis.call('ZRANGE', KEYS[2], 0, -(max + 1))
for _, old in ipairs(redis.call('ZRANGEBYLEX', KEYS[2], '-', ARGV[5])) do table.insert(gone, old) end
for _, old in ipairs(gone) do
  local k = ARGV[6] .. old
  if redis.call('EXISTS', k) == 1 and (tonumber(redis.call('HGET', k, ARGV[7]) or '0') > 0
      or redis.call('ZSCORE', KEYS[4], old)) then
    redis.call('HSET', k, ARGV[8], '1')
  else
    redis.call('DEL', k, k .. ':rcv')
  end
  redis.call('ZREM', KEYS[2], old)
end
local others = {KEYS[3]}
if res then others[2] = res end
for _, idx in ipairs(others) do
  redis.call('ZADD', idx, 0, id)
  redis.call('ZREMRANGEBYRANK', idx, 0, -(max + 1))
  redis.call('ZREMRANGEBYLEX', idx, '-', ARGV[5])
end
if res then redis.call('PEXPIRE', res, ARGV[3]) end
if scope then redis.call('SET', scope, id, 'EX', ARGV[12]) end
return 1
`)
