package outbound

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/store"
)

// In-flight caps, shared by every worker process: an attempt holds a lease
// on its webhook (WebhookInFlight, the webhook's max_in_flight) and on its
// account (InFlight, Options.AccountInFlight) while it runs. An attempt that
// finds either full parks (Parked, AccountParked) with a scheduled task as
// a fallback; each release wakes the first parked attempt of both lists at
// once (Inspector.RunTask), so deferred work does not wait for Asynq's
// scheduled-task forwarder.

// leaseTakeLua is the shared head of acquireScript and parkScript: take(),
// which drops expired leases and takes one on both ZSETs when both have
// room. Times are Redis's own clock, so workers' clocks need not agree.
// KEYS[1] webhook HASH, KEYS[2] WebhookInFlight ZSET, KEYS[3] InFlight ZSET.
// ARGV[1] account cap, ARGV[2] webhook cap when the webhook sets none,
// ARGV[3] lease length ms, ARGV[4] lease id.
// take() returns 1 taken, 0 webhook at cap, -1 account at cap, -2 no webhook.
const leaseTakeLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function take()
  if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
  local wcap = tonumber(redis.call('HGET', KEYS[1], 'max_in_flight')) or tonumber(ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= wcap then return 0 end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[1]) then return -1 end
  local len = tonumber(ARGV[3])
  for i = 2, 3 do
    redis.call('ZADD', KEYS[i], now + len, ARGV[4])
    if redis.call('PTTL', KEYS[i]) < len then redis.call('PEXPIRE', KEYS[i], len) end
  end
  return 1
end
`

// acquireScript takes the leases of one attempt, in the pipeline that
// loads it. KEYS and ARGV as leaseTakeLua. Returns take()'s answer.
var acquireScript = redis.NewScript(leaseTakeLua + `return take()`)

// parkScript tries take() once more and, when a cap is still full, moves
// the delivery to a new generation and parks that generation's task id on
// the list of the cap that was full, in one step: a release can then never
// fall between the check and the parking (no lost wake-up).
// KEYS[1…3] as leaseTakeLua, KEYS[4] delivery HASH, KEYS[5] due ZSET,
// KEYS[6] Parked LIST, KEYS[7] AccountParked LIST.
// ARGV[1…4] as leaseTakeLua, ARGV[5] expected gen, ARGV[6] new gen,
// ARGV[7] the caller's now ms, ARGV[8] delivery id, ARGV[9] new task id,
// ARGV[10] fallback wait ms, ARGV[11] more wait ms per attempt parked
// ahead, ARGV[12] longest fallback wait ms.
// Returns {take(), fallback wait ms}; {-3, 0} when the delivery moved on
// (another generation, or it ended).
var parkScript = redis.NewScript(leaseTakeLua + `
local got = take()
if got == 1 or got == -2 then return {got, 0} end
if redis.call('HGET', KEYS[4], 'gen') ~= ARGV[5] or redis.call('HGET', KEYS[4], 'status') ~= 'pending' then return {-3, 0} end
local list = KEYS[6]
if got == -1 then list = KEYS[7] end
local ahead = redis.call('RPUSH', list, ARGV[9]) - 1
redis.call('PEXPIRE', list, 3600000)
local wait = math.min(tonumber(ARGV[10]) + ahead * tonumber(ARGV[11]), tonumber(ARGV[12]))
local next = tonumber(ARGV[7]) + wait
redis.call('HSET', KEYS[4], 'gen', ARGV[6], 'next_attempt_at', next, 'status', 'pending')
redis.call('ZADD', KEYS[5], next, ARGV[8])
return {got, wait}
`)

// releaseScript ends an attempt's leases and takes the first parked task
// of the webhook (unless an attempt of this process waits for the lease)
// and of the account, to be woken.
// KEYS[1] WebhookInFlight ZSET, KEYS[2] InFlight ZSET, KEYS[3] Parked
// LIST, KEYS[4] AccountParked LIST. ARGV[1] lease id, ARGV[2] "1" to take
// the webhook's first parked task.
// Returns {webhook's parked task id or "", account's or ""}.
var releaseScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local w = ''
if ARGV[2] == '1' then w = redis.call('LPOP', KEYS[3]) or '' end
return {w, redis.call('LPOP', KEYS[4]) or ''}
`)

// leaseLength bounds how long a dead worker's lease holds a slot: the
// longest request plus a margin.
const leaseLength = MaxTimeout + 30*time.Second

// caps are the in-flight caps an attempt is checked against.
type caps struct {
	account, webhook int
	lease            string
}

func (s *webhookStore) leaseKeys(acct, whk string) []string {
	return []string{s.keys.Webhook(acct, whk), s.keys.WebhookInFlight(acct, whk), s.keys.InFlight(acct)}
}

func (c caps) args() []any { return []any{c.account, c.webhook, leaseLength.Milliseconds(), c.lease} }

// loaded is what loadAttempt read: the records (empty maps when absent)
// and take()'s answer.
type loaded struct {
	delivery, webhook map[string]string
	lease             int
}

// loadAttempt reads what an attempt needs and takes its leases in one round
// trip: the delivery and webhook records, whatever extra queues (the event,
// read by the event log, unless the caller has it), and acquireScript.
func (s *webhookStore) loadAttempt(ctx context.Context, acct, dlv, whk string, c caps, extra func(redis.Pipeliner)) (loaded, error) {
	var l loaded
	var dc, wc *redis.MapStringStringCmd
	acq := &scriptCall{script: acquireScript, keys: s.leaseKeys(acct, whk), args: c.args()}
	err := s.pipeScripts(ctx, func(p redis.Pipeliner) {
		dc = p.HGetAll(ctx, s.keys.Delivery(acct, dlv))
		wc = p.HGetAll(ctx, s.keys.Webhook(acct, whk))
		extra(p)
	}, acq)
	if err == nil {
		err = errors.Join(dc.Err(), wc.Err(), acq.cmd.Err())
	}
	if err != nil {
		return l, fmt.Errorf("outbound: load delivery %s: %w", dlv, err)
	}
	l.delivery, l.webhook = dc.Val(), wc.Val()
	l.lease, _ = acq.cmd.Int()
	return l, nil
}

// acquire runs acquireScript alone: take()'s answer.
func (s *webhookStore) acquire(ctx context.Context, acct, whk string, c caps) (int, error) {
	n, err := acquireScript.Run(ctx, s.rdb, s.leaseKeys(acct, whk), c.args()...).Int()
	if err != nil {
		return 0, fmt.Errorf("outbound: in-flight lease of %s: %w", whk, err)
	}
	return n, nil
}

// park runs parkScript for d; got is take()'s answer (1: leases taken
// after all), wait the fallback wait when parked.
func (s *webhookStore) park(ctx context.Context, d Delivery, c caps, now time.Time) (got int, wait time.Duration, err error) {
	keys := append(s.leaseKeys(d.AccountID, d.WebhookID), s.keys.Delivery(d.AccountID, d.ID), s.keys.Due(d.AccountID),
		s.keys.Parked(d.AccountID, d.WebhookID), s.keys.AccountParked(d.AccountID))
	args := append(c.args(), d.Gen, d.Gen+1, store.MS(now), d.ID, taskID(d.ID, d.Gen+1),
		parkFallback.Milliseconds(), parkPerAhead.Milliseconds(), parkFallbackMax.Milliseconds())
	res, err := parkScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil || len(res) != 2 {
		return 0, 0, fmt.Errorf("outbound: park %s: %w", d.ID, err)
	}
	return int(res[0]), time.Duration(res[1]) * time.Millisecond, nil
}

// release ends a lease on its own (attempts that end without recording).
func (s *webhookStore) release(ctx context.Context, acct, whk, lease string, wakeParked bool) ([]string, error) {
	c := s.releaseCall(acct, whk, lease, wakeParked)
	if err := s.pipeScripts(ctx, nil, c); err != nil {
		return nil, err
	}
	return woken(c), c.cmd.Err()
}

func (s *webhookStore) releaseCall(acct, whk, lease string, wakeParked bool) *scriptCall {
	return &scriptCall{script: releaseScript, args: []any{lease, boolStr(wakeParked)}, keys: []string{s.keys.WebhookInFlight(acct, whk),
		s.keys.InFlight(acct), s.keys.Parked(acct, whk), s.keys.AccountParked(acct)}}
}

// woken reads the parked task ids a release took.
func woken(c *scriptCall) []string {
	ids, _ := c.cmd.StringSlice()
	out := ids[:0]
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

// scriptCall is one script run on a pipeline by pipeScripts.
type scriptCall struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
}

// pipeScripts runs queue's commands and the scripts in one round trip. A
// pipeline cannot fall back from EVALSHA to EVAL by itself (Redis restarted
// or its script cache flushed): a script refused with NOSCRIPT did not
// run, so it alone runs again with Script.Run, which loads it.
func (s *webhookStore) pipeScripts(ctx context.Context, queue func(redis.Pipeliner), calls ...*scriptCall) error {
	p := s.rdb.Pipeline()
	if queue != nil {
		queue(p)
	}
	for _, c := range calls {
		c.cmd = c.script.EvalSha(ctx, p, c.keys, c.args...)
	}
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) && !redis.HasErrorPrefix(err, "NOSCRIPT") {
		return err
	}
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			c.cmd = c.script.Run(ctx, s.rdb, c.keys, c.args...)
		}
	}
	return nil
}

// popParked takes the next parked task id, the webhook's first, then the
// account's, in place of a stale one a release took.
func (s *webhookStore) popParked(ctx context.Context, acct, whk string) (string, error) {
	for _, k := range []string{s.keys.Parked(acct, whk), s.keys.AccountParked(acct)} {
		id, err := s.rdb.LPop(ctx, k).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		return id, err
	}
	return "", nil
}
