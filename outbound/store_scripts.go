package outbound

// The Lua scripts of outbound's store, each with its KEYS, ARGV and return
// value. Each touches keys of one account only, so all its keys share the
// account's hash tag and one Cluster slot.

import "github.com/redis/go-redis/v9"

// createWebhookScript writes a new webhook and indexes it, unless the
// account is at its quota.
// KEYS[1] webhook HASH, KEYS[2] account's webhooks ZSET, KEYS[3…] the
// WebhooksByType SET of each of its events.
// ARGV[1] id, ARGV[2] max webhooks per account, ARGV[3…] field/value pairs.
// Returns 1 when created, 0 when the account has max webhooks already.
var createWebhookScript = redis.NewScript(`
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
for i = 3, #KEYS do redis.call('SADD', KEYS[i], ARGV[1]) end
return 1
`)

// updateWebhookScript sets some fields of an existing webhook (never the
// whole record, so a concurrent writer of other fields — rotate-secret, the
// worker's failure count — is not undone) and moves its type index entries.
// KEYS[1] webhook HASH, KEYS[2…1+ARGV[4]] WebhooksByType SETs it leaves,
// the rest WebhooksByType SETs it joins.
// ARGV[1] id, ARGV[2] guard field ("" for none), ARGV[3] the value the
// guard field must still have, ARGV[4] how many SETs it leaves, ARGV[5…]
// field/value pairs.
// Returns 1 when updated, 0 when the webhook is gone, -1 when the guard
// field changed.
var updateWebhookScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], ARGV[2]) ~= ARGV[3] then return -1 end
local leave = tonumber(ARGV[4])
for i = 2, #KEYS do
  if i <= 1 + leave then
    redis.call('SREM', KEYS[i], ARGV[1])
  else
    redis.call('SADD', KEYS[i], ARGV[1])
  end
end
if #ARGV >= 6 then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end
return 1
`)

// compareAndSetScript sets fields of an existing webhook whose stored
// value is still the one read (rotate-secrets).
// KEYS[1] webhook HASH. ARGV (field, expected value, new value) triples.
// Returns one 1 (set) or 0 (changed meanwhile, or the webhook is gone) per triple.
var compareAndSetScript = redis.NewScript(`
local out = {}
local exists = redis.call('EXISTS', KEYS[1]) == 1
for i = 1, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i]) or ''
  if exists and cur == ARGV[i+1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+2])
    out[#out+1] = 1
  else
    out[#out+1] = 0
  end
end
return out
`)

// inFlightAcquireScript takes one of an account's in-flight slots, shared
// by every worker process, as a lease that expires on its own (a worker
// that dies mid-attempt gives its slot back when the lease ends). Times
// are Redis's own clock, so workers' clocks need not agree.
// KEYS[1] the account's InFlight ZSET. ARGV[1] cap, ARGV[2] lease length
// ms, ARGV[3] lease id.
// Returns 1 when the lease was taken, 0 when the account is at its cap.
var inFlightAcquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
`)

// createDeliveryScript creates a pending delivery unless it exists, indexes
// it under its webhook (trimmed to the count and age bounds: the records
// and attempt lists of deliveries trimmed by count are deleted with their
// index entries; those past the age floor have expired already), marks it
// due and notes its receiver under the event, for the loop guard.
// KEYS[1] delivery HASH, KEYS[2] webhook's deliveries ZSET, KEYS[3] due ZSET,
// KEYS[4] the event's receivers SET.
// ARGV[1] id, ARGV[2] ttl seconds, ARGV[3] max per webhook, ARGV[4] age floor
// id (exclusive "(" form), ARGV[5] next attempt ms, ARGV[6] receiver
// ("<webhook id> <credential, - when none> <owner id>"), ARGV[7] and
// ARGV[8] the Delivery key around an id, ARGV[9] and ARGV[10] the
// Attempts key around an id (store.Keys builds both; the trimmed keys
// carry the same account hash tag as KEYS, so the same Cluster slot),
// ARGV[11…] field/value pairs.
// Returns 1 when created, 0 when it already existed.
var createDeliveryScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SADD', KEYS[4], ARGV[6])
redis.call('EXPIRE', KEYS[4], ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 11))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
local over = redis.call('ZRANGE', KEYS[2], 0, -tonumber(ARGV[3]) - 1)
for _, id in ipairs(over) do
  redis.call('DEL', ARGV[7] .. id .. ARGV[8], ARGV[9] .. id .. ARGV[10])
  redis.call('ZREM', KEYS[3], id)
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[3]) - 1)
redis.call('ZREMRANGEBYLEX', KEYS[2], '-', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
return 1
`)

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

// rescheduleScript moves a delivery to a new generation, pending and due at
// next, when it is still on the expected generation (any, when that is -1;
// no caller passes -1 today).
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

// noteOutcomeScript keeps the webhook's run of consecutive failed
// deliveries and disables it when the run reaches limit.
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
