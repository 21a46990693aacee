package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/gofiber/fiber/v2"
	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/validate"
)

// Middleware returns the Fiber handler. account returns the caller's account
// id; it runs after authentication.
func (s *Store) Middleware(account func(*fiber.Ctx) string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := c.Get(HeaderKey)
		if key == "" || c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
			return c.Next()
		}
		if len(key) > 255 || !validate.Printable(key) {
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
