package endpoints

import (
	"log/slog"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/idempotency"
	"github.com/hookline/hookline/app/secrets"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/inbound"
)

// Options tune the service; zero values mean the defaults.
type Options struct {
	// BaseURL is the public base of endpoint URLs (BaseURL + "/in/" + token).
	// Empty means "http://localhost:8080".
	BaseURL string
	// MaxBody is the largest post accepted. Zero means 256 KiB.
	MaxBody int
	// DefaultRateLimit is an endpoint's posts per minute unless it sets its
	// own. Zero means 60.
	DefaultRateLimit int
	// LogMax bounds each endpoint's request log by count; what the bound
	// trims is deleted. Zero means 1,000.
	LogMax int
	// LogRetention bounds the request log by age. Zero means 30 days.
	LogRetention time.Duration
	// LogFailureRetention is how long a logged post that failed (after
	// verification: 4xx and 5xx answers) is kept. Zero means 24 hours;
	// it is never longer than LogRetention. Posts refused before
	// verification or by the rate limit are not logged at all, only
	// counted on the endpoint (refused).
	LogFailureRetention time.Duration
	// LogBodyMax is how much of a body the log keeps. Zero means 8 KiB.
	LogBodyMax int
	// MaxEndpoints is how many inbound endpoints one account may have;
	// creating one more is a 409. Zero means 100.
	MaxEndpoints int
	// Secrets seals the HMAC and Standard Webhooks verification secrets
	// at rest. Nil stores them as given (development only).
	Secrets *secrets.Keyring
	// IdempotencyTTL is how long a sender key's first answer is replayed.
	// Zero means 24 h. IdempotencyLease is how long a post still running
	// holds its key. Zero means 60 s.
	IdempotencyTTL, IdempotencyLease time.Duration
	// Tolerance is how far a Standard Webhooks timestamp may be from now.
	// Zero means 5 minutes. Sender keys are kept at least twice as long,
	// so a signed post cannot be replayed while its timestamp is accepted.
	Tolerance time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Service manages inbound endpoints and receives their posts.
type Service struct {
	st       *endpointStore
	accounts *accounts.Service
	actions  *inbound.Service
	limiter  *redis_rate.Limiter
	idem     *idempotency.Store // sender ids: Idempotency-Key or webhook-id
	opts     Options
}

// New returns a Service that runs each post's action through actions.Run,
// whose *apperr.Error values are relayed to the sender.
func New(rdb redis.UniversalClient, keys store.Keys, accts *accounts.Service, actions *inbound.Service, opts Options) *Service {
	if opts.BaseURL == "" {
		opts.BaseURL = "http://localhost:8080"
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.MaxBody == 0 {
		opts.MaxBody = 256 << 10
	}
	if opts.DefaultRateLimit == 0 {
		opts.DefaultRateLimit = 60
	}
	if opts.LogMax == 0 {
		opts.LogMax = 1000
	}
	if opts.LogRetention == 0 {
		opts.LogRetention = 30 * 24 * time.Hour
	}
	if opts.LogFailureRetention == 0 {
		opts.LogFailureRetention = 24 * time.Hour
	}
	opts.LogFailureRetention = min(opts.LogFailureRetention, opts.LogRetention)
	if opts.MaxEndpoints == 0 {
		opts.MaxEndpoints = 100
	}
	if opts.LogBodyMax == 0 {
		opts.LogBodyMax = 8 << 10
	}
	if opts.IdempotencyTTL == 0 {
		opts.IdempotencyTTL = 24 * time.Hour
	}
	if opts.IdempotencyLease == 0 {
		opts.IdempotencyLease = 60 * time.Second
	}
	if opts.Tolerance == 0 {
		opts.Tolerance = 5 * time.Minute
	}
	opts.IdempotencyTTL = max(opts.IdempotencyTTL, 2*opts.Tolerance)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Service{
		st: &endpointStore{rdb: rdb, keys: keys, sec: opts.Secrets}, accounts: accts, actions: actions,
		limiter: redis_rate.NewLimiter(rdb), opts: opts,
		idem: idempotency.New(rdb, keys, idempotency.Options{TTL: opts.IdempotencyTTL, Lease: opts.IdempotencyLease}),
	}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// URL is an endpoint's public URL for a token.
func (s *Service) URL(token string) string { return s.opts.BaseURL + "/in/" + token }
