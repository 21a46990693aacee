package outbound

// The Lua scripts of outbound's store, each with its KEYS, ARGV and return
// value. Each touches keys of one account only, so all its keys share the
// account's hash tag and one Cluster slot.

import "github.com/redis/go-redis/v9"

// setFieldsScript updates some fields of an existing webhook, if it still exists.
// KEYS[1] webhook HASH; ARGV field/value pairs. Returns 0 when gone.
var setFieldsScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`)

// createDeliveryScript creates a pending delivery unless it exists, indexes
// it under its webhook (trimmed to the count and age bounds), marks it due
// and notes its receiver under the event, for the loop guard.
// KEYS[1] delivery HASH, KEYS[2] webhook's deliveries ZSET, KEYS[3] due ZSET,
// KEYS[4] the event's receivers SET.
// ARGV[1] id, ARGV[2] ttl seconds, ARGV[3] max per webhook, ARGV[4] age floor
// id (exclusive "(" form), ARGV[5] next attempt ms, ARGV[6] receiver
// ("<webhook id> <credential, - when none> <owner id>"), ARGV[7…]
// field/value pairs.
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
