package outbound

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/secrets"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/outbound/safehttp"
)

// DefaultQueue is the Asynq queue deliveries use unless Options.Queue says otherwise.
const DefaultQueue = "deliveries"

// Options tune the engine; zero values mean the defaults.
type Options struct {
	// Policy decides which targets may be delivered to.
	Policy safehttp.Policy
	// RetrySchedule is the wait before each retry. Nil means 5m, 10m.
	RetrySchedule []time.Duration
	// Version goes into User-Agent: Hookline/<version>.
	Version string
	// Queue is the Asynq queue of deliveries. Empty means "deliveries".
	Queue string
	// Retention bounds the delivery log by age. Zero means 30 days.
	Retention time.Duration
	// MaxPerWebhook bounds the log by count per webhook. Zero means 10,000.
	MaxPerWebhook int
	// DisableAfter is the run of failed deliveries that disables a webhook. Zero means 20.
	DisableAfter int
	// OwnerCacheTTL is how long a webhook owner's principal is reused in
	// this process (fan-out and attempts), so a removed permission bites
	// within it. Zero means 1 s; negative means no cache.
	OwnerCacheTTL time.Duration
	// Metrics registers the engine's Prometheus series (metrics.go). Nil
	// counts them without exporting.
	Metrics prometheus.Registerer
	// QueueSampleEvery is how often the worker samples the delivery
	// queue's depth for the metrics. Zero means 5 s.
	QueueSampleEvery time.Duration
	// AccountInFlight caps one account's deliveries in flight across every
	// worker process (a Redis semaphore of expiring leases), so one
	// tenant's slow or tarpitting endpoints cannot hold the workers every
	// other tenant shares. An attempt past the cap waits without using one
	// of its tries. Zero means 20.
	AccountInFlight int
	// MaxWebhooks is how many webhooks one account may have; creating one
	// more is a conflict. Zero means 500.
	MaxWebhooks int
	// Secrets seals webhook secrets at rest: signing secrets, the auth
	// password or token, custom header values. Nil stores them as given
	// (development only; production configures a key).
	Secrets *secrets.Keyring
	// UnsubscribeHosts are the hosts a reverse unsubscribe (SendUnsubscribe,
	// a REST Hooks DELETE) may be sent to; any other original URL gets
	// none. Nil means hooks.zapier.com; tests add their fake partner's host.
	UnsubscribeHosts []string
	// RotationOverlap is how long an old secret keeps signing. Zero means 24 h.
	RotationOverlap time.Duration
	// QueueShards spreads delivery tasks over this many queues, each with
	// its own Cluster hash slot, accounts mapped to shards by hash
	// (QueueFor). Zero or one means the single queue Queue.
	QueueShards int
	// ReconcileEvery is how often pending deliveries are checked for lost
	// tasks; ReconcileGrace how late one must be to be checked. Zero means
	// 5 s and 15 s (HOOKLINE_RECONCILE_EVERY, HOOKLINE_RECONCILE_GRACE).
	ReconcileEvery, ReconcileGrace time.Duration
	// Jitter spreads retries by ± this fraction. Zero means 0.1; negative none.
	Jitter float64
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Deps are the core services the engine reads.
type Deps struct {
	Keys     store.Keys
	Catalog  *catalog.Service
	Events   *events.Log
	Accounts *accounts.Service
}

// Service is the outbound delivery engine.
type Service struct {
	st        *webhookStore
	q         *asynq.Client
	inspector *asynq.Inspector
	deps      Deps
	opts      Options
	client    *http.Client
	limiter   *redis_rate.Limiter
	owners    ownerCache
	waiting   waiters
	batchGate accountGate
	metrics   *metrics
	seal      sealer
	onRemoved []func(ctx context.Context, w Webhook, why string)
	bg        background
}

// background tracks the goroutines started with Go, so Close can wait for
// them. closed is guarded by mu together with wg.Add, so no Add can race
// with Close's Wait.
type background struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// New returns the engine. q enqueues delivery tasks.
func New(rdb redis.UniversalClient, q *asynq.Client, deps Deps, opts Options) *Service {
	if opts.RetrySchedule == nil {
		opts.RetrySchedule = []time.Duration{5 * time.Minute, 10 * time.Minute}
	}
	if opts.Queue == "" {
		opts.Queue = DefaultQueue
	}
	if opts.Retention == 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.MaxPerWebhook == 0 {
		opts.MaxPerWebhook = 10_000
	}
	if opts.DisableAfter == 0 {
		opts.DisableAfter = 20
	}
	if opts.OwnerCacheTTL == 0 {
		opts.OwnerCacheTTL = time.Second
	}
	if opts.QueueSampleEvery == 0 {
		opts.QueueSampleEvery = 5 * time.Second
	}
	if opts.AccountInFlight == 0 {
		opts.AccountInFlight = 20
	}
	if opts.MaxWebhooks == 0 {
		opts.MaxWebhooks = 500
	}
	if opts.UnsubscribeHosts == nil {
		opts.UnsubscribeHosts = []string{"hooks.zapier.com"}
	}
	if opts.RotationOverlap == 0 {
		opts.RotationOverlap = 24 * time.Hour
	}
	if opts.ReconcileEvery == 0 {
		opts.ReconcileEvery = 5 * time.Second
	}
	if opts.ReconcileGrace == 0 {
		opts.ReconcileGrace = 15 * time.Second
	}
	if opts.Jitter == 0 {
		opts.Jitter = 0.1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	seal := sealer{kr: opts.Secrets, keys: deps.Keys}
	return &Service{
		st: &webhookStore{rdb: rdb, keys: deps.Keys, seal: seal}, q: q, inspector: asynq.NewInspectorFromRedisClient(rdb),
		deps: deps, opts: opts, client: opts.Policy.NewClient(), limiter: redis_rate.NewLimiter(rdb),
		owners: ownerCache{ttl: opts.OwnerCacheTTL}, metrics: newMetrics(opts.Metrics), seal: seal,
	}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// Go runs f in the background, tracked so Close waits for it: sends that
// must not hold up the request that caused them (Zapier's reverse
// unsubscribe) but must not be cut off at shutdown either. f bounds its
// own duration (SendUnsubscribe gives up after 10 s). Once Close has begun,
// f runs in the caller's goroutine instead, so nothing is started that
// Close would not wait for.
func (s *Service) Go(f func()) {
	s.bg.mu.Lock()
	if s.bg.closed {
		s.bg.mu.Unlock()
		f()
		return
	}
	s.bg.wg.Add(1)
	s.bg.mu.Unlock()
	go func() {
		defer s.bg.wg.Done()
		f()
	}()
}

// Close waits for the work started with Go to finish, or for ctx to end,
// whichever is first; it returns ctx's error in the second case. The
// composition root calls it at shutdown, after the HTTP server and the
// worker have stopped. Calling it again waits again.
func (s *Service) Close(ctx context.Context) error {
	s.bg.mu.Lock()
	s.bg.closed = true
	s.bg.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.bg.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("outbound: close: background sends still running: %w", ctx.Err())
	}
}
