package accounts

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/perm"
)

// RevokeHook runs after a credential of any kind is revoked, so what lives
// and dies with it (Zapier subscriptions, IFTTT trigger identities) goes
// with it. It is best effort: it logs its own failures.
type RevokeHook func(ctx context.Context, acct string, cred auth.Credential)

// OnRevoke registers f to run after any credential is revoked. Call it
// while wiring, before serving.
func (s *Service) OnRevoke(f RevokeHook) { s.onRevoke = append(s.onRevoke, f) }

// Revoked announces that cred no longer authenticates: every hook registered
// with OnRevoke runs, in order. The owner of each credential kind calls it
// once the revocation is stored (keys here; endpoints, sessions and OAuth
// connections in their packages).
func (s *Service) Revoked(ctx context.Context, acct string, cred auth.Credential) {
	if cred.ID == "" {
		return
	}
	for _, f := range s.onRevoke {
		f(ctx, acct, cred)
	}
}

// errInactive is what every credential of a closed account or a removed
// user gets; the message does not say which.
var errInactive = apperr.Unauthorized("this credential's account or user is no longer active")

// principal is the one place a Principal is built, for every credential
// kind: the account must be active and the user present and active, and the
// permissions are the user's as read now, narrowed to limit when the
// credential carries its own (a key's permissions; nil means the user's).
func principal(a Account, u User, userOK bool, cred auth.Credential, limit []string) (auth.Principal, error) {
	if a.Status != "active" || !userOK || !u.DeactivatedAt.IsZero() {
		return auth.Principal{}, errInactive
	}
	perms := perm.NewSet(u.Permissions...)
	if limit != nil {
		perms = perms.Intersect(perm.NewSet(limit...))
	}
	return auth.Principal{AccountID: a.ID, AccountName: a.Name, UserID: u.ID, Credential: cred, Perms: perms}, nil
}

// Principal builds the principal of a credential that acts as a user of an
// account: an inbound endpoint acting as its owner, a webhook's owner at
// fan-out, a dashboard session, an OAuth connection. limit narrows the
// user's permissions (nil: the user's own). A closed account or a removed
// user is unauthorized; an unknown account too.
func (s *Service) Principal(ctx context.Context, acct, userID string, cred auth.Credential, limit []string) (auth.Principal, error) {
	a, u, ok, err := s.st.accountAndUser(ctx, acct, userID)
	if errors.Is(err, errNoAccount) {
		return auth.Principal{}, errInactive
	}
	if err != nil {
		return auth.Principal{}, err
	}
	return principal(a, u, ok, cred, limit)
}

// Authenticate resolves a raw API key. Unknown, malformed and revoked keys,
// keys of closed accounts and keys whose user is gone are unauthorized. The
// principal's permissions are the key's intersected with its user's now.
func (s *Service) Authenticate(ctx context.Context, raw string) (auth.Principal, error) {
	if !strings.HasPrefix(raw, KeyPrefix) || len(raw) > 128 {
		return auth.Principal{}, apperr.Unauthorized("invalid API key")
	}
	hash := hashKey(raw)
	l, err := s.st.lookupKey(ctx, hash)
	if errors.Is(err, errNoKey) {
		return auth.Principal{}, apperr.Unauthorized("invalid API key")
	}
	if err != nil {
		return auth.Principal{}, err
	}
	if subtle.ConstantTimeCompare([]byte(l.hash), []byte(hash)) != 1 {
		return auth.Principal{}, apperr.Unauthorized("invalid API key")
	}
	if !l.key.RevokedAt.IsZero() {
		return auth.Principal{}, apperr.Unauthorized("this API key has been revoked")
	}
	cred := auth.Credential{Kind: auth.KindKey, ID: l.key.ID, Name: l.key.Name}
	p, err := principal(l.account, l.user, l.userOK, cred, l.key.Permissions)
	if err != nil {
		return auth.Principal{}, apperr.Unauthorized("this API key's account or user is no longer active")
	}
	now := s.now()
	if now.Sub(l.key.LastUsedAt) >= s.opts.TouchEvery {
		if err := s.st.touchKey(ctx, l.key.AccountID, l.key.ID, now); err != nil {
			// Losing a last_used_at update must not fail the request.
			s.opts.Log.Warn("accounts: touch key", "key_id", l.key.ID, "err", err)
		}
	}
	return p, nil
}
