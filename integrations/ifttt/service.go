// Package ifttt publishes a Hookline account as a service on IFTTT's
// platform: the Service API under /ifttt/v1 (triggers, actions, queries,
// test setup), an OAuth2 authorization server under /oauth (the connection
// is an oauth credential of one user), and realtime notifications to
// IFTTT, sent by an Asynq task of its own through outbound's guarded HTTP
// client. Actions run through inbound, so permissions, idempotency and the
// loop guard apply exactly as for any other integration.
package ifttt

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/customers"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/idempotency"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/inbound"
)

// Options configure the service; zero values mean the defaults.
type Options struct {
	// ServiceKey is IFTTT's service key. Empty turns every /ifttt/v1 and
	// /oauth route into a 404.
	ServiceKey string
	// ClientID and ClientSecret are the OAuth client IFTTT signs in as.
	ClientID, ClientSecret string
	// ServiceID is the service's slug on IFTTT; the only redirect_uri
	// accepted is https://ifttt.com/channels/{ServiceID}/authorize.
	ServiceID string
	// RealtimeURL is where notifications go (POST {url}/v1/notifications).
	// Nil means https://realtime.ifttt.com.
	RealtimeURL *url.URL
	// Client sends notifications. Nil means http.DefaultClient; the
	// composition root passes outbound's guarded client.
	Client *http.Client
	// NotifyWindow coalesces a trigger identity's notifications: events
	// within it cause one. Zero means 1 s.
	NotifyWindow time.Duration
	// RetrySchedule is the wait before each retry of a notification that
	// got a 5xx, a 429 (whose Retry-After wins) or no answer; retries stop
	// once GiveUpAfter has passed. Nil means 5s, 10s, 20s, 40s, 80s.
	RetrySchedule []time.Duration
	// GiveUpAfter bounds how long a notification is retried. Zero means 4 min.
	GiveUpAfter time.Duration
	// Now returns the current time. Nil means time.Now; tests pass a fake.
	Now func() time.Time
	// Session shares another surface's sign-in with the authorization
	// page: a user it reports as signed in goes straight to the consent
	// form. Nil means IFTTT's own sign-in form every time.
	Session SessionFunc
	// UserURL is the absolute URL user/info answers as the user's page on
	// Hookline (the dashboard). Empty leaves url out.
	UserURL string
	// InFlightLease is how long a notification batch may be in flight
	// (taken from the pending set, sent, or waiting for its retry) before
	// the sweep hands its identities back to the pending set, so a process
	// that dies mid-send loses nothing. Zero means 2 min; keep it above the
	// 30 s send timeout.
	InFlightLease time.Duration
	// Version goes into User-Agent.
	Version string
	Log     *slog.Logger
}

// Deps are the services the IFTTT surface runs on.
type Deps struct {
	Keys      store.Keys
	Accounts  *accounts.Service
	Catalog   *catalog.Service
	Events    *events.Log
	Customers *customers.Service
	Inbound   *inbound.Service
	Idem      *idempotency.Store
	Queue     *asynq.Client
}

// Service is the IFTTT surface.
type Service struct {
	st   *iftttStore
	d    Deps
	opts Options
}

// Connection is one IFTTT connection: an oauth credential of one user.
// Its tokens are never kept, only their hashes.
type Connection struct {
	ID         string
	AccountID  string
	UserID     string
	ClientID   string
	Scope      string
	CreatedAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Credential is the connection as a principal's credential.
func (c Connection) Credential() auth.Credential {
	return auth.Credential{Kind: auth.KindOAuth, ID: c.ID, Name: "IFTTT"}
}

// Identity is a trigger identity IFTTT polls: one Applet's trigger with
// its fields, for one connection.
type Identity struct {
	ID        string
	UserID    string
	ConnID    string
	Trigger   string            // the trigger's slug
	Topic     string            // what events notify it: the slug, or "new_event:<type>"
	Fields    map[string]string // triggerFields
	CreatedAt time.Time
}

// New wires the service. When a connection is revoked (by anyone calling
// accounts.Revoked with an oauth credential), the hook New registers drops
// its trigger identities, which stops their notifications.
func New(rdb redis.UniversalClient, d Deps, opts Options) *Service {
	if opts.RealtimeURL == nil {
		opts.RealtimeURL, _ = url.Parse("https://realtime.ifttt.com")
	}
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.NotifyWindow == 0 {
		opts.NotifyWindow = time.Second
	}
	if opts.RetrySchedule == nil {
		opts.RetrySchedule = []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second}
	}
	if opts.InFlightLease == 0 {
		opts.InFlightLease = 2 * time.Minute
	}
	if opts.GiveUpAfter == 0 {
		opts.GiveUpAfter = 4 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	s := &Service{st: &iftttStore{rdb: rdb, keys: d.Keys}, d: d, opts: opts}
	d.Accounts.OnRevoke(s.onRevoke)
	return s
}

// Enabled reports whether the IFTTT surface is configured.
func (s *Service) Enabled() bool { return s.opts.ServiceKey != "" }

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// CheckServiceKey accepts IFTTT's service key, compared in constant time.
func (s *Service) CheckServiceKey(key string) error {
	if !s.Enabled() || subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.ServiceKey)) != 1 {
		return apperr.Unauthorized("invalid IFTTT-Service-Key")
	}
	return nil
}

func hashToken(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

var errBadToken = apperr.Unauthorized("the IFTTT connection is not valid any more: reconnect the service")

// Authenticate turns an access token into its principal, built by
// accounts.Principal from the user's permissions now: an unknown, rotated
// past its grace, revoked or foreign token is a 401, and so is a token
// whose user was removed or whose account was closed.
func (s *Service) Authenticate(ctx context.Context, raw string) (auth.Principal, error) {
	if raw == "" || len(raw) > 256 {
		return auth.Principal{}, errBadToken
	}
	ref, err := s.st.token(ctx, hashToken(raw))
	if errors.Is(err, errNoToken) {
		return auth.Principal{}, errBadToken
	}
	if err != nil {
		return auth.Principal{}, err
	}
	now := s.now()
	if ref.kind != "access" || (!ref.until.IsZero() && !now.Before(ref.until)) {
		return auth.Principal{}, errBadToken
	}
	c, err := s.st.connection(ctx, ref.acct, ref.conn)
	if apperr.IsCode(err, apperr.CodeNotFound) {
		return auth.Principal{}, errBadToken
	}
	if err != nil {
		return auth.Principal{}, err
	}
	if !c.RevokedAt.IsZero() {
		return auth.Principal{}, errBadToken
	}
	p, err := s.d.Accounts.Principal(ctx, c.AccountID, c.UserID, c.Credential(), nil)
	if err != nil {
		if apperr.IsCode(err, apperr.CodeUnauthorized) {
			return auth.Principal{}, errBadToken
		}
		return auth.Principal{}, err
	}
	if now.Sub(c.LastUsedAt) >= time.Minute {
		if err := s.st.touchConnection(ctx, c.AccountID, c.ID, now); err != nil {
			s.opts.Log.Warn("ifttt: touch connection", "connection", c.ID, "err", err)
		}
	}
	return p, nil
}

// onRevoke drops the trigger identities of a revoked connection, so IFTTT
// is notified about them no more.
func (s *Service) onRevoke(ctx context.Context, acct string, cred auth.Credential) {
	if cred.Kind != auth.KindOAuth || cred.ID == "" {
		return
	}
	c, err := s.st.connection(ctx, acct, cred.ID)
	if err != nil {
		return // not an IFTTT connection
	}
	if c.RevokedAt.IsZero() {
		// Revoked from elsewhere: make the tokens fail too.
		if _, err := s.st.revokeConnection(ctx, acct, c.ID, s.now()); err != nil {
			s.opts.Log.Warn("ifttt: revoke connection", "connection", c.ID, "err", err)
		}
	}
	tids, err := s.st.connectionIdentities(ctx, acct, c.ID)
	if err == nil {
		err = s.st.removeIdentities(ctx, acct, tids)
	}
	if err != nil {
		s.opts.Log.Warn("ifttt: drop trigger identities of revoked connection", "connection", c.ID, "err", err)
	}
}

// UserInfo is the connected user as IFTTT shows it.
type UserInfo struct {
	ID, Name, URL string
}

// UserInfo returns the bearer's user: id, name (the user's, else the
// account's) and Options.UserURL, if set.
func (s *Service) UserInfo(ctx context.Context, p auth.Principal) (UserInfo, error) {
	u, err := s.d.Accounts.User(ctx, p.AccountID, p.UserID)
	if err != nil {
		return UserInfo{}, err
	}
	name := u.Name
	if name == "" {
		name = p.AccountName
	}
	return UserInfo{ID: u.ID, Name: name, URL: s.opts.UserURL}, nil
}
