// Package idempotency makes mutating requests safe to retry. A request with an
// Idempotency-Key stores its first response for 24 h, per account; a replay
// gets that response back with Idempotent-Replayed: true, the same key with a
// different request is a 422, and a duplicate while the first is still
// running is a 409. 5xx responses are not stored, so the client may retry.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
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
	// request does not block its key for a day. Zero means 60 s.
	Lease time.Duration
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
		opts.Lease = 60 * time.Second
	}
	return &Store{rdb: rdb, keys: keys, opts: opts}
}

// claim atomically creates an in-flight record or returns the existing one.
// KEYS[1] record key; ARGV[1] fingerprint, ARGV[2] lease in ms.
// Returns {} when claimed, else {state, fingerprint, status, ctype, body, location}.
var claim = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'inflight', 'fp', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {}
end
return redis.call('HMGET', KEYS[1], 'state', 'fp', 'status', 'ctype', 'body', 'location')
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
	return Record{Fingerprint: str(1), Done: str(0) == "done", Status: status, ContentType: str(3),
		Body: []byte(str(4)), Location: str(5)}, false, nil
}

// Finish stores the response of a claimed key for the TTL.
func (s *Store) Finish(ctx context.Context, key string, r Record) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, key, "state", "done", "status", r.Status, "ctype", r.ContentType, "body", r.Body, "location", r.Location)
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

// Middleware returns the Fiber handler. account returns the caller's account
// id; it runs after authentication.
func (s *Store) Middleware(account func(*fiber.Ctx) string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := c.Get(HeaderKey)
		if key == "" || c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
			return c.Next()
		}
		if len(key) > 255 || !printable(key) {
			return apperr.InvalidField(HeaderKey, "must be 1 to 255 printable ASCII characters")
		}
		acct := account(c)
		kh := sha256.Sum256([]byte(key))
		rk := s.keys.Idempotency(acct, hex.EncodeToString(kh[:]))
		fp := fingerprint(c)

		ctx := c.UserContext()
		r, claimed, err := s.Claim(ctx, rk, fp)
		if err != nil {
			return err
		}
		if !claimed {
			if r.Fingerprint != fp {
				return apperr.New(apperr.CodeIdempotencyReuse,
					"this Idempotency-Key was used with a different request; use a new key")
			}
			if !r.Done {
				return apperr.New(apperr.CodeIdempotencyBusy,
					"a request with this Idempotency-Key is still in progress; retry later")
			}
			c.Set(HeaderReplayed, "true")
			if r.ContentType != "" {
				c.Set(fiber.HeaderContentType, r.ContentType)
			}
			return c.Status(r.Status).Send(r.Body)
		}

		// A panic below must not hold the key until the lease runs out.
		defer func() {
			if r := recover(); r != nil {
				_ = s.Release(context.WithoutCancel(ctx), rk)
				panic(r)
			}
		}()
		if err := c.Next(); err != nil {
			// Render now so the response that is stored is the one sent.
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				return herr
			}
		}
		status := c.Response().StatusCode()
		if status >= 500 {
			return s.Release(ctx, rk)
		}
		return s.Finish(ctx, rk, Record{Status: status,
			ContentType: string(c.Response().Header.ContentType()), Body: c.Response().Body()})
	}
}

// fingerprint identifies the request: method, path, query and body.
func fingerprint(c *fiber.Ctx) string {
	h := sha256.New()
	h.Write([]byte(c.Method()))
	h.Write([]byte{0})
	h.Write([]byte(c.OriginalURL()))
	h.Write([]byte{0})
	h.Write(c.BodyRaw())
	return hex.EncodeToString(h.Sum(nil))
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
