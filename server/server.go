// Package server is the composition root: it builds every service from the
// configuration with explicit arguments and wires the HTTP app and the
// worker. It is the only package that knows every other.
package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/config"
	"github.com/hookline/hookline/app/customers"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/idempotency"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/inbound"
	"github.com/hookline/hookline/inbound/endpoints"
	"github.com/hookline/hookline/integrations/ifttt"
	"github.com/hookline/hookline/integrations/zapier"
	"github.com/hookline/hookline/outbound"
	"github.com/hookline/hookline/outbound/safehttp"
	"github.com/hookline/hookline/web"
)

// BodyLimit is the largest request body accepted. Bodies up to
// hardBodyLimit are read and refused with a normal 413 (request id, log,
// metrics); larger ones are cut off by the HTTP server itself.
const (
	BodyLimit     = 1 << 20
	hardBodyLimit = 8 << 20
)

// Options are the composition root's test seams; zero values mean the defaults.
type Options struct {
	// Now is the clock every service uses. Nil means time.Now.
	Now func() time.Time
	// BcryptCost for passwords. Zero means bcrypt's default.
	BcryptCost int
	// Version is reported in User-Agent headers.
	Version string
	// Outbound adjusts the delivery engine's options (tests: clocks,
	// reconciler timing, trusted test CAs, a resolver).
	Outbound func(*outbound.Options)
	// Events adjusts the event log's options (tests: outbox drain timing).
	Events func(*events.Options)
	// IFTTT adjusts the IFTTT service's options (tests: notification
	// window and retry schedule).
	IFTTT func(*ifttt.Options)
}

// Server holds the wired services.
type Server struct {
	Config    config.Config
	Redis     redis.UniversalClient
	Log       *slog.Logger
	Keys      store.Keys
	Registry  *prometheus.Registry
	Accounts  *accounts.Service
	Catalog   *catalog.Service
	Events    *events.Log
	Customers *customers.Service
	Idem      *idempotency.Store
	Queue     *asynq.Client
	Outbound  *outbound.Service
	Zapier    *zapier.Service
	IFTTT     *ifttt.Service
	Inbound   *inbound.Service
	Endpoints *endpoints.Service
	Web       *web.Dashboard
}

// New wires every service. It does not contact Redis.
func New(cfg config.Config, rdb redis.UniversalClient, log *slog.Logger, opts Options) *Server {
	keys := store.NewKeys(cfg.Prefix)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cat := catalog.New(rdb, keys, catalog.Options{MaxTypes: cfg.Quotas.EventTypes, MaxSampleBytes: cfg.Quotas.SampleBytes, Now: opts.Now})
	eo := events.Options{Retention: cfg.EventRetention, Max: cfg.EventMax, Now: opts.Now, Log: log}
	if opts.Events != nil {
		opts.Events(&eo)
	}
	evlog := events.NewLog(rdb, keys, cat, eo)
	accts := accounts.New(rdb, keys, accounts.Options{Now: opts.Now, BcryptCost: opts.BcryptCost, MaxKeys: cfg.Quotas.Keys, Log: log})
	q := asynq.NewClientFromRedisClient(rdb)

	dev := cfg.Mode == config.Development
	oo := outbound.Options{
		Policy:           safehttp.Policy{AllowHTTP: dev, AllowPrivate: dev, Allow: cfg.AllowTargets},
		RetrySchedule:    cfg.RetrySchedule,
		AccountInFlight:  cfg.Quotas.AccountInFlight,
		UnsubscribeHosts: cfg.ZapierHookHosts,
		QueueShards:      cfg.QueueShards,
		ReconcileEvery:   cfg.ReconcileEvery,
		ReconcileGrace:   cfg.ReconcileGrace,
		Metrics:          reg,
		MaxWebhooks:      cfg.Quotas.Webhooks,
		Secrets:          cfg.Secrets,
		Version:          opts.Version,
		Retention:        cfg.EventRetention,
		Now:              opts.Now,
		Log:              log,
	}
	if opts.Outbound != nil {
		opts.Outbound(&oo)
	}
	out := outbound.New(rdb, q, outbound.Deps{Keys: keys, Catalog: cat, Events: evlog, Accounts: accts}, oo)

	zap := zapier.New(out, evlog, accts, log)
	cs := customers.New(rdb, keys, evlog, opts.Now)
	in := inbound.New(rdb, keys, cs, evlog, out, inbound.Options{MaxHops: cfg.MaxHops, Window: cfg.LoopWindow, Threshold: cfg.LoopThreshold, Now: opts.Now, Log: log})
	// Every core write (customers, publishing) asks the loop guard first.
	evlog.Guard(in)
	eps := endpoints.New(rdb, keys, accts, in, endpoints.Options{BaseURL: baseURL(cfg), MaxEndpoints: cfg.Quotas.Endpoints,
		Secrets: cfg.Secrets, Now: opts.Now, Log: log})
	// A revoked credential keeps no access through what it created: its
	// webhooks are turned off and its inbound endpoints paused, for their
	// owners to review (Zapier's own hook has removed its subscriptions).
	accts.OnRevoke(func(ctx context.Context, acct string, cred auth.Credential) {
		if _, err := out.DeactivateWebhooksOfCredential(ctx, acct, cred); err != nil {
			log.Warn("revoke: turn off webhooks of the credential", "credential", cred.String(), "err", err)
		}
		if _, err := eps.PauseEndpointsOfCredential(ctx, acct, cred); err != nil {
			log.Warn("revoke: pause endpoints of the credential", "credential", cred.String(), "err", err)
		}
	})
	idem := idempotency.New(rdb, keys, idempotency.Options{Log: log})

	// The dashboard calls the same services as the API; cookies are Secure
	// when the public base URL is https.
	dash := web.New(rdb, keys, web.Deps{Accounts: accts, Outbound: out, Inbound: in, Endpoints: eps, Catalog: cat},
		web.Options{Secure: cfg.BaseURL != nil && cfg.BaseURL.Scheme == "https", Log: log})

	// IFTTT: the Service API, its authorization server and realtime
	// notifications, sent through the same guarded client policy as webhooks.
	iftOpts := ifttt.Options{
		ServiceKey: cfg.IFTTT.ServiceKey, ClientID: cfg.IFTTT.ClientID, ClientSecret: cfg.IFTTT.ClientSecret,
		ServiceID: cfg.IFTTT.ServiceID, RealtimeURL: cfg.IFTTT.RealtimeURL, Client: oo.Policy.NewClient(),
		Version: opts.Version, Now: opts.Now, Log: log,
		Session: dash.SessionPrincipal, // the authorization page shares the dashboard's sign-in
	}
	if cfg.BaseURL != nil {
		iftOpts.UserURL = cfg.BaseURL.JoinPath("account").String() // user/info's url: the dashboard
	}
	if opts.IFTTT != nil {
		opts.IFTTT(&iftOpts)
	}
	ift := ifttt.New(rdb, ifttt.Deps{Keys: keys, Accounts: accts, Catalog: cat, Events: evlog, Customers: cs,
		Inbound: in, Idem: idem, Queue: q}, iftOpts)

	// The event log hands each recorded event to its emitters, in order:
	// outbound delivery first, IFTTT realtime next.
	evlog.Forward(out, ift)

	return &Server{
		Web:    dash,
		Config: cfg, Redis: rdb, Log: log, Keys: keys, Registry: reg,
		Zapier:    zap,
		IFTTT:     ift,
		Accounts:  accts,
		Catalog:   cat,
		Events:    evlog,
		Customers: cs,
		Inbound:   in,
		Endpoints: eps,
		Idem:      idem,
		Queue:     q,
		Outbound:  out,
	}
}

// baseURL is the public base of URLs Hookline hands out ("" for the default).
func baseURL(cfg config.Config) string {
	if cfg.BaseURL == nil {
		return ""
	}
	return cfg.BaseURL.String()
}

// Close waits for the background work the services started outside the
// worker (outbound's reverse unsubscribes), bounded by ctx. Call it after
// the HTTP server and the worker stopped.
func (s *Server) Close(ctx context.Context) error { return s.Outbound.Close(ctx) }

// Ready reports whether Redis takes writes: on Cluster, whether every
// master answers.
func (s *Server) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c, ok := s.Redis.(*redis.ClusterClient); ok {
		// Every master holds some accounts: one that is down is a gap.
		return c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.Ping(ctx).Err() })
	}
	// A master answers PING while it refuses writes (min-replicas-to-write
	// unmet after a failover, a demoted master): probe with a write.
	return s.Redis.Set(ctx, s.Keys.ReadyProbe(), "1", 10*time.Second).Err()
}

// HTTP builds the Fiber app with every route.
func (s *Server) HTTP() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "hookline",
		BodyLimit:             hardBodyLimit,
		ErrorHandler:          httpapi.ErrorHandler(s.Log),
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		// The app parses the multipart forms it accepts (/in/{token}) itself,
		// after authentication; fasthttp must not parse every request's
		// parts before any handler runs.
		DisablePreParseMultipartForm: true,
	})
	app.Use(httpapi.Observe(s.Log, httpapi.NewMetrics(s.Registry)), httpapi.LimitBody(BodyLimit), hardening)
	s.routes(app)
	return app
}

// hardening sets the headers every answer carries: no MIME sniffing, and
// no caching of anything (API answers carry records, raw keys and secrets
// shown once).
func hardening(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}
