// Package idempotency makes mutating requests safe to retry. A request with an
// Idempotency-Key stores its first response for 24 h, per account; a replay
// gets that response back with Idempotent-Replayed: true, the same key with a
// different request is a 422, and a duplicate while the first is still
// running is a 409. 5xx responses are not stored, so the client may retry.
package idempotency

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/store"
)

// Header names.
const (
	HeaderKey      = "Idempotency-Key"
	HeaderReplayed = "Idempotent-Replayed"
)

// Options tune the middleware; zero values mean the defaults.
type Options struct {
	// TTL is how long a finished response is kept. Zero means 24 h.
	TTL time.Duration
	// Lease is how long an unfinished request holds its key, so a crashed
	// request does not block its key for a day. Zero means 35 s: just over
	// the HTTP server's 30 s read and write timeouts, so no live request
	// outlives its claim, and a client retrying after an API process died
	// waits at most that long (409 idempotency_in_flight until then). A
	// publish is also safe past the lease: its event and its scope are
	// recorded in one transaction (events.Log.Publish).
	Lease time.Duration
	// Log receives the requests whose response could not be stored.
	// Nil means slog.Default().
	Log *slog.Logger
}

// Store keeps idempotency records in Redis.
type Store struct {
	rdb  redis.UniversalClient
	keys store.Keys
	opts Options
}

// New returns a Store.
func New(rdb redis.UniversalClient, keys store.Keys, opts Options) *Store {
	if opts.TTL == 0 {
		opts.TTL = 24 * time.Hour
	}
	if opts.Lease == 0 {
		opts.Lease = 35 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Store{rdb: rdb, keys: keys, opts: opts}
}

// claim atomically creates an in-flight record or returns the existing one.
// KEYS[1] record key; ARGV[1] fingerprint, ARGV[2] lease in ms.
// Returns {} when claimed, else {state, fingerprint, status, ctype, body, location, perms}.
var claim = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'inflight', 'fp', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {}
end
return redis.call('HMGET', KEYS[1], 'state', 'fp', 'status', 'ctype', 'body', 'location', 'perms')
`)

// Record is one idempotent request: the fingerprint it was claimed with
// and, once Done, the response to replay.
type Record struct {
	Fingerprint string
	Done        bool
	Status      int
	ContentType string
	Body        []byte
	Location    string
	// Perms are the permissions the caller held when the response was
	// made (the middleware's records; empty for others).
	Perms []string
}

// Claim takes the record key for a request with fingerprint fp for the
// lease (claimed true), or returns the record already there. Callers
// other than the middleware (inbound endpoints' sender ids) build key with
// their own store.Keys function.
func (s *Store) Claim(ctx context.Context, key, fp string) (r Record, claimed bool, err error) {
	res, err := claim.Run(ctx, s.rdb, []string{key}, fp, s.opts.Lease.Milliseconds()).Slice()
	if err != nil {
		return Record{}, false, fmt.Errorf("idempotency: claim: %w", err)
	}
	if len(res) == 0 {
		return Record{}, true, nil
	}
	str := func(i int) string {
		if i < len(res) {
			if v, ok := res[i].(string); ok {
				return v
			}
		}
		return ""
	}
	status, _ := strconv.Atoi(str(2))
	var perms []string
	if p := str(6); p != "" {
		perms = strings.Split(p, ",")
	}
	return Record{Fingerprint: str(1), Done: str(0) == "done", Status: status, ContentType: str(3),
		Body: []byte(str(4)), Location: str(5), Perms: perms}, false, nil
}

// Finish stores the response of a claimed key for the TTL.
func (s *Store) Finish(ctx context.Context, key string, r Record) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, key, "state", "done", "status", r.Status, "ctype", r.ContentType, "body", r.Body,
		"location", r.Location, "perms", strings.Join(r.Perms, ","))
	pipe.PExpire(ctx, key, s.opts.TTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("idempotency: store response: %w", err)
	}
	return nil
}

// Release frees a claimed key, so a retry runs afresh.
func (s *Store) Release(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	return nil
}
