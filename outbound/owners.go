package outbound

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
)

// ownerCache keeps webhook owners' principals for Options.OwnerCacheTTL in
// this process, so fan-out and attempts do not read the owner's account and
// user once per delivery. A removed permission, a closed account or a
// removed user therefore bites within the TTL (1 s by default), not at the
// very next attempt; retries are at least 1 s apart (app/retry), so a retry
// queued before the change is still checked after it. Expiry uses the
// process's real clock: it bounds staleness, it is not delivery logic.
type ownerCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]ownerEntry
}

type ownerEntry struct {
	p        auth.Principal
	inactive bool // the account is closed or the user removed
	until    time.Time
}

// ownerCacheMax bounds the cache; past it, it starts over.
const ownerCacheMax = 10_000

// owner returns the principal w's owner delivers under, as accounts builds
// it (the owner's own permissions; no limit): active false for a closed
// account or a removed user.
func (s *Service) owner(ctx context.Context, w Webhook) (p auth.Principal, active bool, err error) {
	c := &s.owners
	key := w.AccountID + "\x00" + w.OwnerID + "\x00" + w.Credential
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.m[key]
		c.mu.Unlock()
		if ok && time.Now().Before(e.until) {
			return e.p, !e.inactive, nil
		}
	}
	p, err = s.deps.Accounts.Principal(ctx, w.AccountID, w.OwnerID, auth.ParseCredential(w.Credential), nil)
	inactive := apperr.IsCode(err, apperr.CodeUnauthorized)
	if err != nil && !inactive {
		return auth.Principal{}, false, fmt.Errorf("outbound: owner of %s: %w", w.ID, err)
	}
	if c.ttl > 0 {
		c.mu.Lock()
		if c.m == nil || len(c.m) >= ownerCacheMax {
			c.m = map[string]ownerEntry{}
		}
		c.m[key] = ownerEntry{p: p, inactive: inactive, until: time.Now().Add(c.ttl)}
		c.mu.Unlock()
	}
	return p, !inactive, nil
}
