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
// Returns {} when claimed, else {state, fingerprint, status, content_type, body}.
var claim = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'inflight', 'fp', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {}
end
return redis.call('HMGET', KEYS[1], 'state', 'fp', 'status', 'ctype', 'body')
`)

// Record is the stored state the middleware acts on; tests read it too.
type record struct {
	state, fp, ctype, body string
	status                 int
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
		res, err := claim.Run(ctx, s.rdb, []string{rk}, fp, s.opts.Lease.Milliseconds()).Slice()
		if err != nil {
			return fmt.Errorf("idempotency: claim: %w", err)
		}
		if len(res) > 0 {
			r := toRecord(res)
			if r.fp != fp {
				return apperr.New(apperr.CodeIdempotencyReuse,
					"this Idempotency-Key was used with a different request; use a new key")
			}
			if r.state != "done" {
				return apperr.New(apperr.CodeIdempotencyBusy,
					"a request with this Idempotency-Key is still in progress; retry later")
			}
			c.Set(HeaderReplayed, "true")
			if r.ctype != "" {
				c.Set(fiber.HeaderContentType, r.ctype)
			}
			return c.Status(r.status).Send([]byte(r.body))
		}

		// A panic below must not hold the key until the lease runs out.
		defer func() {
			if r := recover(); r != nil {
				_ = s.rdb.Del(context.WithoutCancel(ctx), rk).Err()
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
			if err := s.rdb.Del(ctx, rk).Err(); err != nil {
				return fmt.Errorf("idempotency: release: %w", err)
			}
			return nil
		}
		pipe := s.rdb.TxPipeline()
		pipe.HSet(ctx, rk, "state", "done", "status", status,
			"ctype", string(c.Response().Header.ContentType()), "body", c.Response().Body())
		pipe.PExpire(ctx, rk, s.opts.TTL)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("idempotency: store response: %w", err)
		}
		return nil
	}
}

func toRecord(res []any) record {
	str := func(i int) string {
		if i < len(res) {
			if s, ok := res[i].(string); ok {
				return s
			}
		}
		return ""
	}
	st, _ := strconv.Atoi(str(2))
	return record{state: str(0), fp: str(1), status: st, ctype: str(3), body: str(4)}
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
