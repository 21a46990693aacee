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
// record, atomically, so an entry is either pending or in a batch.
//
// KEYS[1] pending ZSET, KEYS[2] the batch HASH
// ARGV[1] created_ms, ARGV[2] max entries, ARGV[3] batch TTL in ms
// Returns the entries moved (empty when nothing was pending).
var takeBatchScript = redis.NewScript(`
local popped = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[2]))
if #popped == 0 then return {} end
local entries = {}
for i = 1, #popped, 2 do entries[#entries + 1] = popped[i] end
redis.call('HSET', KEYS[2], 'entries', cjson.encode(entries), 'created_ms', ARGV[1], 'attempt', '0')
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
return entries
`)

func (s *iftttStore) takeBatch(ctx context.Context, id string, max int, at time.Time, ttl time.Duration) ([]string, error) {
	res, err := takeBatchScript.Run(ctx, s.rdb, []string{s.keys.IFTTTPending(), s.keys.IFTTTBatch(id)},
		store.MS(at), max, ttl.Milliseconds()).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("ifttt: take batch: %w", err)
	}
	return res, nil
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

func (s *iftttStore) setAttempt(ctx context.Context, id string, attempt int) error {
	return s.rdb.HSet(ctx, s.keys.IFTTTBatch(id), "attempt", attempt).Err()
}

func (s *iftttStore) deleteBatch(ctx context.Context, id string) error {
	return s.rdb.Del(ctx, s.keys.IFTTTBatch(id)).Err()
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
