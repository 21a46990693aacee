package ifttt

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/store"
)

// notified reports whether the emitter already handled an event.
func (s *iftttStore) notified(ctx context.Context, acct, evt string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.keys.IFTTTNotified(acct, evt)).Result()
	if err != nil {
		return false, fmt.Errorf("ifttt: check event: %w", err)
	}
	return n == 1, nil
}

func (s *iftttStore) markNotified(ctx context.Context, acct, evt string) error {
	return s.rdb.Set(ctx, s.keys.IFTTTNotified(acct, evt), "1", 24*time.Hour).Err()
}

// queue adds identities ("acc_id identity") to the pending set; one
// already waiting keeps its place (coalesced).
func (s *iftttStore) queue(ctx context.Context, entries []string, at time.Time) error {
	zs := make([]redis.Z, len(entries))
	for i, e := range entries {
		zs[i] = redis.Z{Score: float64(store.MS(at)), Member: e}
	}
	if err := s.rdb.ZAddNX(ctx, s.keys.IFTTTPending(), zs...).Err(); err != nil {
		return fmt.Errorf("ifttt: queue notifications: %w", err)
	}
	return nil
}

func (s *iftttStore) pendingCount(ctx context.Context) (int64, error) {
	return s.rdb.ZCard(ctx, s.keys.IFTTTPending()).Result()
}

// takeBatchScript moves up to ARGV[2] pending entries into a new batch
// record and leases it in the in-flight set, atomically, so an entry is
// always either pending or in a leased batch.
//
// KEYS[1] pending ZSET, KEYS[2] the batch HASH, KEYS[3] in-flight ZSET
// ARGV[1] created_ms, ARGV[2] max entries, ARGV[3] batch id, ARGV[4] lease end in ms
// Returns the entries moved (empty when nothing was pending).
var takeBatchScript = redis.NewScript(`
local popped = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[2]))
if #popped == 0 then return {} end
local entries = {}
for i = 1, #popped, 2 do entries[#entries + 1] = popped[i] end
redis.call('HSET', KEYS[2], 'entries', cjson.encode(entries), 'created_ms', ARGV[1], 'attempt', '0')
redis.call('ZADD', KEYS[3], tonumber(ARGV[4]), ARGV[3])
return entries
`)

// takeBatch claims up to max pending entries as batch id, leased until
// leaseEnd.
func (s *iftttStore) takeBatch(ctx context.Context, id string, max int, at, leaseEnd time.Time) ([]string, error) {
	res, err := takeBatchScript.Run(ctx, s.rdb, []string{s.keys.IFTTTPending(), s.keys.IFTTTBatch(id), s.keys.IFTTTInFlight()},
		store.MS(at), max, id, store.MS(leaseEnd)).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("ifttt: take batch: %w", err)
	}
	return res, nil
}

// leaseScript extends a batch's lease and, when ARGV[3] is not empty,
// records its next attempt; a batch the sweep already handed back (or that
// was finished) is left alone.
//
// KEYS[1] the batch HASH, KEYS[2] in-flight ZSET
// ARGV[1] batch id, ARGV[2] lease end in ms, ARGV[3] attempt or ""
// Returns 1 when the batch is still in flight, else 0.
var leaseScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'attempt', ARGV[3]) end
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[1])
return 1
`)

// lease extends batch id's lease to leaseEnd and sets its attempt (unless
// attempt < 0). It reports false when the batch is no longer in flight.
func (s *iftttStore) lease(ctx context.Context, id string, leaseEnd time.Time, attempt int) (bool, error) {
	a := ""
	if attempt >= 0 {
		a = strconv.Itoa(attempt)
	}
	n, err := leaseScript.Run(ctx, s.rdb, []string{s.keys.IFTTTBatch(id), s.keys.IFTTTInFlight()}, id, store.MS(leaseEnd), a).Int()
	if err != nil {
		return false, fmt.Errorf("ifttt: lease batch: %w", err)
	}
	return n == 1, nil
}

// finishBatch deletes a sent or given-up batch and its lease.
func (s *iftttStore) finishBatch(ctx context.Context, id string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.keys.IFTTTBatch(id))
		p.ZRem(ctx, s.keys.IFTTTInFlight(), id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("ifttt: finish batch: %w", err)
	}
	return nil
}

// expiredBatches lists up to max batch ids whose lease ended by now.
func (s *iftttStore) expiredBatches(ctx context.Context, now time.Time, max int64) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, s.keys.IFTTTInFlight(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(store.MS(now), 10), Count: max,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("ifttt: list expired batches: %w", err)
	}
	return ids, nil
}

// returnBatchScript hands an expired batch's entries back to the pending
// set (coalescing with any waiting there) and deletes the batch, unless
// its lease was extended since it was listed.
//
// KEYS[1] in-flight ZSET, KEYS[2] pending ZSET, KEYS[3] the batch HASH
// ARGV[1] batch id, ARGV[2] now in ms
// Returns how many entries went back (-1 when the lease was still live).
var returnBatchScript = redis.NewScript(`
local lease = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not lease then return 0 end
if tonumber(lease) > tonumber(ARGV[2]) then return -1 end
local raw = redis.call('HGET', KEYS[3], 'entries')
local n = 0
if raw then
  for _, e in ipairs(cjson.decode(raw)) do
    redis.call('ZADD', KEYS[2], 'NX', tonumber(ARGV[2]), e)
    n = n + 1
  end
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
return n
`)

// returnBatch hands batch id back to the pending set if its lease ended by
// now, and returns how many entries went back.
func (s *iftttStore) returnBatch(ctx context.Context, id string, now time.Time) (int, error) {
	n, err := returnBatchScript.Run(ctx, s.rdb, []string{s.keys.IFTTTInFlight(), s.keys.IFTTTPending(), s.keys.IFTTTBatch(id)},
		id, store.MS(now)).Int()
	if err != nil {
		return 0, fmt.Errorf("ifttt: return batch %s: %w", id, err)
	}
	return max(n, 0), nil
}

type batch struct {
	entries []string
	created time.Time
	attempt int
}

func (s *iftttStore) batch(ctx context.Context, id string) (batch, bool, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.IFTTTBatch(id)).Result()
	if err != nil {
		return batch{}, false, fmt.Errorf("ifttt: load batch: %w", err)
	}
	if len(m) == 0 {
		return batch{}, false, nil
	}
	b := batch{created: store.Time(m["created_ms"])}
	b.attempt, _ = strconv.Atoi(m["attempt"])
	_ = json.Unmarshal([]byte(m["entries"]), &b.entries)
	return b, true, nil
}

// registered keeps the entries whose identity is still registered (a
// DELETE or a revocation since queuing drops it).
func (s *iftttStore) registered(ctx context.Context, entries []string) ([]string, error) {
	p := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(entries))
	for i, e := range entries {
		acct, id := splitEntry(e)
		cmds[i] = p.Exists(ctx, s.keys.IFTTTIdentity(acct, id))
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("ifttt: check identities: %w", err)
	}
	out := entries[:0:0]
	for i, c := range cmds {
		if c.Val() == 1 {
			out = append(out, entries[i])
		}
	}
	return out, nil
}
