package outbound

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// MaxTimeout is the longest a webhook's request may take. Webhooks stored
// with a longer timeout (the old limit was 60 s) are sent with this one.
const MaxTimeout = 30 * time.Second

// zapierHookRate paces deliveries to one hooks.zapier.com URL under
// Zapier's limit, so bursts are smoothed rather than refused.
const zapierHookRate = 30

// MinRateLimit is the smallest non-zero rate_limit: one delivery a minute.
const MinRateLimit = 1.0 / 60

// rateLimit is perSecond as a redis_rate limit: whole requests per second
// from 1/s up, otherwise one request per period, so that slow rates down to
// MinRateLimit are kept exactly instead of rounded to zero.
func rateLimit(perSecond float64) redis_rate.Limit {
	if perSecond >= 1 {
		n := int(math.Round(perSecond))
		return redis_rate.Limit{Rate: n, Burst: n, Period: time.Second}
	}
	return redis_rate.Limit{Rate: 1, Burst: 1, Period: time.Duration(float64(time.Second) / perSecond)}
}

// rateWait returns how long to wait before this webhook may send again.
// Limits are shared by all workers through Redis.
func (s *Service) rateWait(ctx context.Context, w Webhook) (time.Duration, error) {
	var wait time.Duration
	check := func(bucket string, perSecond float64) error {
		if perSecond <= 0 {
			return nil
		}
		// Stored before the MinRateLimit rule: as slow as allowed.
		res, err := s.limiter.Allow(ctx, s.st.keys.RateLimit(w.AccountID, bucket), rateLimit(max(perSecond, MinRateLimit)))
		if err != nil {
			return fmt.Errorf("outbound: rate limit: %w", err)
		}
		if res.Allowed == 0 && res.RetryAfter > wait {
			wait = res.RetryAfter
		}
		return nil
	}
	if err := check("whk:"+w.ID, w.RateLimit); err != nil {
		return 0, err
	}
	// The substring test keeps URL parsing off the hot path for other targets.
	if !strings.Contains(strings.ToLower(w.URL), "hooks.zapier.com") {
		return wait, nil
	}
	if u, err := url.Parse(w.URL); err == nil && strings.EqualFold(u.Hostname(), "hooks.zapier.com") {
		if err := check("zap:"+u.Path, zapierHookRate); err != nil {
			return 0, err
		}
	}
	return wait, nil
}
