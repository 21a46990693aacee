package outbound

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// MaxTimeout is the longest a webhook's request may take. Webhooks stored
// with a longer timeout (the old limit was 60 s) are sent with this one.
const MaxTimeout = 30 * time.Second

// webhookSlots caps one webhook's requests in flight in this process. An
// entry lives only while the webhook has requests in flight, so the map is
// bounded by what is running, not by every webhook ever delivered to.
type webhookSlots struct {
	mu sync.Mutex
	n  map[string]int
}

// acquire takes one of the webhook's max slots; release gives it back.
func (s *webhookSlots) acquire(id string, max int) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[id] >= max {
		return nil, false
	}
	s.n[id]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.n[id] <= 1 {
			delete(s.n, id)
		} else {
			s.n[id]--
		}
	}, true
}

// inUse is how many webhooks hold slots now.
func (s *webhookSlots) inUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.n)
}

// acquireAccountSlot takes one of the account's in-flight slots, shared
// by every worker process, for one attempt to w. The lease outlives the
// longest the attempt can take, so a worker that dies holding it frees it
// by expiry; release ends it at once. ok is false at the cap.
func (s *Service) acquireAccountSlot(ctx context.Context, w Webhook, lease string) (release func(), ok bool, err error) {
	ttl := min(w.Timeout, MaxTimeout) + 30*time.Second
	ok, err = s.st.acquireInFlight(ctx, w.AccountID, lease, s.opts.AccountInFlight, ttl)
	if err != nil || !ok {
		return nil, false, err
	}
	return func() {
		// The attempt's context may be done (shutdown); the slot still goes back.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.st.releaseInFlight(rctx, w.AccountID, lease); err != nil {
			s.opts.Log.Warn("outbound: release in-flight slot; it expires on its own", "account_id", w.AccountID, "err", err)
		}
	}, true, nil
}

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
