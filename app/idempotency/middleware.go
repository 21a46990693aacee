package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/validate"
)

type localKey int

const localReplayAs localKey = 0

type scopeKey struct{}

// Scope returns the idempotency scope of the request ctx belongs to (a
// hash of the caller's credential and Idempotency-Key), or false when the
// request sent none. A write that must happen at most once per key across
// crashes (publishing an event) records it beside the write, in the same
// transaction, so a retry after a crash finds what the first try wrote.
func Scope(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(scopeKey{}).(string)
	return s, ok && s != ""
}

// ReplayAs sets what a replay of this request answers instead of the
// response sent now: a handler whose response carries a secret shown once
// (a raw API key, a signing secret, a token) passes the same resource
// without it, so the secret is never stored. The replay keeps the status
// and says Idempotent-Replayed: true.
func ReplayAs(c *fiber.Ctx, v any) { c.Locals(localReplayAs, v) }

// Middleware returns the Fiber handler; it runs after authentication.
// Records are scoped to the caller's credential: another key of the same
// account never replays, or learns of, a response it did not cause. A
// replay also needs every permission the credential held when the record
// was made, so a stored response never carries more authority than its
// caller has now.
func (s *Store) Middleware(principal func(*fiber.Ctx) auth.Principal) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := c.Get(HeaderKey)
		if key == "" || c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
			return c.Next()
		}
		if len(key) > 255 || !validate.Printable(key) {
			return apperr.InvalidField(HeaderKey, "must be 1 to 255 printable ASCII characters")
		}
		p := principal(c)
		rk := s.keys.Idempotency(p.AccountID, scopeHash(p.Credential.String(), key))
		fp := fingerprint(c)

		ctx := c.UserContext()
		r, claimed, err := s.Claim(ctx, rk, fp)
		if err != nil {
			return err
		}
		if !claimed {
			if r.Done && p.Perms.Missing(perm.NewSet(r.Perms...)) != "" {
				return apperr.Conflict("the permissions of this credential changed since this Idempotency-Key was used; send the request with a new key")
			}
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

		scope := scopeHash(p.Credential.String(), key)
		c.SetUserContext(context.WithValue(ctx, scopeKey{}, scope))
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
		body := c.Response().Body()
		if v := c.Locals(localReplayAs); v != nil {
			if body, err = json.Marshal(v); err != nil {
				_ = s.Release(ctx, rk)
				return fmt.Errorf("idempotency: encode replay body: %w", err)
			}
		}
		if err := s.Finish(ctx, rk, Record{Status: status, Perms: p.Perms.List(),
			ContentType: string(c.Response().Header.ContentType()), Body: body}); err != nil {
			// The request's work is done and its answer is ready: the
			// client gets it. Answering an error instead would invite the
			// retry that must not happen. Only the record is missing: the
			// key stays claimed until its lease lapses, and a retry after
			// that runs the handler again (a publish answers with the same
			// event, found by its scope: events.Log.Publish).
			s.opts.Log.Warn("idempotency: the response was sent but not stored", "route", c.Route().Path, "err", err)
		}
		return nil
	}
}

// scopeHash names a record by the credential that made it and the
// client's key, so keys of different credentials never meet.
func scopeHash(credential, key string) string {
	h := sha256.New()
	h.Write([]byte(credential))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil))
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
