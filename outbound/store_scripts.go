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

// createDeliveriesScript creates the pending deliveries of one event to
// some webhooks, each unless it exists: the record, its entry in the
// webhook's index (trimmed to the count and age bounds: the records and
// attempt lists of ended deliveries trimmed by count are deleted with
// their index entries; those past the age floor have expired already), the due
// set, and its receiver in the event's record, for the loop guard (one
// line each in the event HASH's field ARGV[14], written once per call, and
// only while the event exists: a field on a missing key would make a
// record with no envelope and no expiry), counting it as open there
// (events.OpenField, ARGV[15]) so the event log's bound keeps the event
// until it ends. A trimmed delivery still pending is not deleted: it leaves
// the index, is marked 'trimmed' and stays due, and recordScript deletes it
// when it ends. The bound never drops a delivery before it is made.
// KEYS[1] due ZSET, KEYS[2] the event HASH, then for each
// delivery i: KEYS[1+2i] its HASH, KEYS[2+2i] its webhook's deliveries ZSET.
// ARGV[1] ttl seconds, ARGV[2] max per webhook, ARGV[3] age floor id
// (exclusive "(" form), ARGV[4] next attempt ms, ARGV[5] and ARGV[6] the
// Delivery key around an id, ARGV[7] and ARGV[8] the Attempts key around
// an id (store.Keys builds both; the trimmed keys carry the same account
// hash tag as KEYS, so the same Cluster slot), ARGV[9] event id, ARGV[10]
// event type, ARGV[11] created ms, ARGV[12] gen, ARGV[13] test ("1"/"0"),
// ARGV[14] the receivers field, ARGV[15] the open count field, then four
// per delivery: id, webhook id, url, receiver ("<webhook id>
// <credential, - when none> <owner id>").
// Returns one 1 (created) or 0 (existed already) per delivery.
var createDeliveriesScript = redis.NewScript(`
local out = {}
local rcv = {}
local max = tonumber(ARGV[2])
for i = 1, (#KEYS - 2) / 2 do
  local dk, wk, a = KEYS[1 + 2 * i], KEYS[2 + 2 * i], 15 + 4 * (i - 1)
  local id = ARGV[a + 1]
  if redis.call('EXISTS', dk) == 1 then
    out[i] = 0
  else
    rcv[#rcv + 1] = ARGV[a + 4]
    redis.call('HSET', dk, 'id', id, 'webhook_id', ARGV[a + 2], 'event_id', ARGV[9], 'event_type', ARGV[10],
      'url', ARGV[a + 3], 'status', 'pending', 'attempts', 0, 'last_status_code', 0, 'last_error', '',
      'created_at', ARGV[11], 'next_attempt_at', ARGV[4], 'gen', ARGV[12], 'test', ARGV[13])
    redis.call('EXPIRE', dk, ARGV[1])
    redis.call('ZADD', wk, 0, id)
    for _, old in ipairs(redis.call('ZRANGE', wk, 0, -max - 1)) do
      local ok = ARGV[5] .. old .. ARGV[6]
      if redis.call('HGET', ok, 'status') == 'pending' then
        redis.call('HSET', ok, 'trimmed', '1')
      else
        redis.call('DEL', ok, ARGV[7] .. old .. ARGV[8])
        redis.call('ZREM', KEYS[1], old)
      end
    end
    redis.call('ZREMRANGEBYRANK', wk, 0, -max - 1)
    redis.call('ZREMRANGEBYLEX', wk, '-', ARGV[3])
    redis.call('ZADD', KEYS[1], ARGV[4], id)
    out[i] = 1
  end
end
if #rcv > 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  local cur = redis.call('HGET', KEYS[2], ARGV[14])
  if cur then table.insert(rcv, 1, cur) end
  redis.call('HSET', KEYS[2], ARGV[14], table.concat(rcv, '\n'))
  redis.call('HINCRBY', KEYS[2], ARGV[15], #rcv - (cur and 1 or 0))
end
return out
`)

// subscribersScript reads what fan-out needs of the webhooks subscribed to
// a type, in one call.
// KEYS[1] the type's WebhooksByType SET. ARGV[1] and ARGV[2] the Webhook
// key around an id (store.Keys builds it; same account hash tag).
// Returns five values per existing webhook: id, active, owner_id,
// credential, url.
var subscribersScript = redis.NewScript(`
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('HMGET', ARGV[1] .. id .. ARGV[2], 'id', 'active', 'owner_id', 'credential', 'url')
  if v[1] then
    out[#out + 1] = id
    out[#out + 1] = v[2] or ''
    out[#out + 1] = v[3] or ''
    out[#out + 1] = v[4] or ''
    out[#out + 1] = v[5] or ''
  end
end
return out
`)

// recordScript stores an attempt's outcome if the delivery is still
// pending on the generation that ran it (a second run of a generation
// whose delivery ended already must not reopen it). When the delivery ends (pending → delivered or
// failed) it lowers its event's open count (events.OpenField), dropping
// the field at 0, and deletes the event if the log trimmed it meanwhile
// and none is open; a delivery
// the webhook's bound trimmed while pending is deleted once it ends.
// KEYS[1] delivery HASH, KEYS[2] attempts LIST, KEYS[3] due ZSET, KEYS[4]
// event HASH.
// ARGV[1] expected gen, ARGV[2] attempt JSON, ARGV[3] ttl seconds,
// ARGV[4] next attempt ms (0: none, leave due), ARGV[5] delivery id,
// ARGV[6] events.OpenField, ARGV[7] events.TrimmedField, ARGV[8…]
// field/value pairs. Returns 1 when stored, 0 when stale.
var recordScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
local now = redis.call('HGET', KEYS[1], 'status')
if now ~= 'pending' and redis.call('EXISTS', KEYS[4]) == 1 then
  if redis.call('HINCRBY', KEYS[4], ARGV[6], -1) <= 0 then
    if redis.call('HGET', KEYS[4], ARGV[7]) == '1' then
      redis.call('DEL', KEYS[4])
    else
      redis.call('HDEL', KEYS[4], ARGV[6]) -- a field costs ~90 B in this hash
    end
  end
end
if now ~= 'pending' and redis.call('HGET', KEYS[1], 'trimmed') == '1' then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[5])
  return 1
end
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
// no caller passes -1 today). A delivery that had ended (a redelivery)
// counts as open on its event again.
// KEYS[1] delivery HASH, KEYS[2] due ZSET, KEYS[3] event HASH. ARGV[1]
// expected gen or -1, ARGV[2] new gen, ARGV[3] next ms, ARGV[4] id,
// ARGV[5] status to set, ARGV[6] events.OpenField.
// Returns 1 when moved.
var rescheduleScript = redis.NewScript(`
local g = redis.call('HGET', KEYS[1], 'gen')
if not g then return 0 end
if ARGV[1] ~= '-1' and g ~= ARGV[1] then return 0 end
local was = redis.call('HGET', KEYS[1], 'status')
redis.call('HSET', KEYS[1], 'gen', ARGV[2], 'next_attempt_at', ARGV[3], 'status', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
if was ~= 'pending' and ARGV[5] == 'pending' and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], ARGV[6], 1)
end
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
