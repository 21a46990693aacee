package httpapi

import (
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"github.com/hookline/hookline/app/apperr"
)

// KeyRate limits each credential's requests per API process: perSecond
// sustained, with a burst of two seconds' worth. Past it the answer is 429
// with Retry-After. It runs after Authenticate. The buckets live in the
// process (no Redis round trip per request), so with N API processes a
// credential gets at most N times the rate: a bound against abuse, not a
// billing meter. The bucket map is emptied when it reaches maxKeys, so it
// cannot grow without bound.
func KeyRate(perSecond float64, maxKeys int) fiber.Handler {
	var mu sync.Mutex
	buckets := map[string]*rate.Limiter{}
	burst := int(2*perSecond + 0.5)
	if burst < 1 {
		burst = 1
	}
	return func(c *fiber.Ctx) error {
		id := Principal(c).Credential.String()
		mu.Lock()
		l, ok := buckets[id]
		if !ok {
			if len(buckets) >= maxKeys {
				buckets = map[string]*rate.Limiter{}
			}
			l = rate.NewLimiter(rate.Limit(perSecond), burst)
			buckets[id] = l
		}
		r := l.Reserve()
		delay := r.Delay()
		if delay > 0 {
			r.Cancel() // a refused request does not spend a token
		}
		mu.Unlock()
		if delay > 0 {
			return apperr.RateLimited("too many requests with this credential; slow down", max(delay, time.Second))
		}
		return c.Next()
	}
}
