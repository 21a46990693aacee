// Package config reads Hookline's configuration from HOOKLINE_* environment
// variables. Load is the only reader; it applies every default in one place
// and reports all bad values at once.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/app/retry"
	"github.com/hookline/hookline/app/secrets"
	"github.com/hookline/hookline/app/store"
)

// Mode selects how strict target rules are.
type Mode string

const (
	// Production accepts only https targets on public addresses.
	Production Mode = "production"
	// Development also allows http and loopback/private targets, for local work.
	Development Mode = "development"
)

// Config is the effective configuration.
type Config struct {
	Addr     string   // HOOKLINE_ADDR, default ":8080"
	RedisURL string   // HOOKLINE_REDIS_URL, default redis://127.0.0.1:6379/0
	Mode     Mode     // HOOKLINE_MODE, default production
	BaseURL  *url.URL // HOOKLINE_BASE_URL, default http://localhost<Addr>
	Prefix   string   // HOOKLINE_REDIS_PREFIX, default "hl"
	LogLevel slog.Level

	// EventRetention bounds the event log by age; EventMax by count per account.
	EventRetention time.Duration // HOOKLINE_EVENT_RETENTION, default 720h (30 days)
	EventMax       int           // HOOKLINE_EVENT_MAX, default 10000

	// RetrySchedule is the wait before each retry of a delivery; "none"
	// means a single attempt.
	RetrySchedule []time.Duration // HOOKLINE_RETRY_SCHEDULE, default 5m,10m
	// AllowTargets opens these ranges to delivery in production.
	AllowTargets []netip.Prefix // HOOKLINE_ALLOW_TARGETS
	// MaxHops bounds a causal chain of writes; a longer one is a loop.
	MaxHops int // HOOKLINE_MAX_HOPS, default 3
	// LoopWindow is how long states sent out are remembered for echo
	// detection; LoopThreshold how many suppressed writes of one resource in
	// that window pause the writer.
	LoopWindow    time.Duration // HOOKLINE_LOOP_WINDOW, default 10m
	LoopThreshold int           // HOOKLINE_LOOP_THRESHOLD, default 3

	// Secrets seals the secrets Hookline keeps (signing secrets, delivery
	// credentials, header values, verification secrets). Production
	// refuses to start without it; development stores them plain.
	Secrets *secrets.Keyring // HOOKLINE_SECRET_KEYS, "id:base64key[,id:base64key…]"

	// MetricsAddr serves /metrics on its own listener; MetricsToken
	// requires "Authorization: Bearer <token>" for /metrics on the API
	// listener. With neither, production serves no /metrics.
	MetricsAddr  string // HOOKLINE_METRICS_ADDR
	MetricsToken string // HOOKLINE_METRICS_TOKEN

	Quotas Quotas

	// QueueShards spreads delivery work over this many Asynq queues, each
	// in its own Cluster hash slot (accounts mapped to shards by hash).
	QueueShards int // HOOKLINE_QUEUE_SHARDS, default 1, at most 64
	// WorkerConcurrency is how many delivery tasks one worker process runs
	// at once. An attempt holds its slot for the receiver's whole answer,
	// so slow or failing receivers need slots, not CPU.
	WorkerConcurrency int // HOOKLINE_WORKER_CONCURRENCY, default 50, at most 1000
	// ReconcileEvery and ReconcileGrace: how often pending deliveries are
	// checked for a lost task, and how late one must be to be checked.
	ReconcileEvery time.Duration // HOOKLINE_RECONCILE_EVERY, default 5s
	ReconcileGrace time.Duration // HOOKLINE_RECONCILE_GRACE, default 15s

	// ZapierHookHosts are the hosts Zapier's reverse unsubscribe (a DELETE
	// to a subscription's original hook URL) may go to. Only tests and
	// stand-ins for Zapier change it.
	ZapierHookHosts []string // HOOKLINE_ZAPIER_HOOK_HOSTS, default hooks.zapier.com

	// IFTTT publishes the account as a service on IFTTT's platform
	// (integrations/ifttt). Empty ServiceKey turns the IFTTT surface off.
	IFTTT IFTTT
}

// IFTTT is the IFTTT service's configuration. ServiceKey, ClientID,
// ClientSecret and ServiceID are set together or not at all.
type IFTTT struct {
	ServiceKey   string   // HOOKLINE_IFTTT_SERVICE_KEY: IFTTT-Service-Key, both ways
	ClientID     string   // HOOKLINE_IFTTT_CLIENT_ID: the OAuth client IFTTT signs in as
	ClientSecret string   // HOOKLINE_IFTTT_CLIENT_SECRET
	ServiceID    string   // HOOKLINE_IFTTT_SERVICE_ID: redirect_uri is https://ifttt.com/channels/{id}/authorize
	RealtimeURL  *url.URL // HOOKLINE_IFTTT_REALTIME_URL, default https://realtime.ifttt.com
}

// Enabled reports whether the IFTTT surface is on.
func (i IFTTT) Enabled() bool { return i.ServiceKey != "" }

// Quotas bound what one account may hold and do. The defaults are far above
// what a small SaaS needs; they exist so one tenant cannot exhaust Redis or
// the workers shared with every other.
type Quotas struct {
	Webhooks        int     // HOOKLINE_MAX_WEBHOOKS, default 500 per account
	EventTypes      int     // HOOKLINE_MAX_EVENT_TYPES, default 200 per account (own types)
	SampleBytes     int     // HOOKLINE_MAX_SAMPLE_BYTES, default 1048576: all own types' samples together
	Endpoints       int     // HOOKLINE_MAX_ENDPOINTS, default 100 per account
	Keys            int     // HOOKLINE_MAX_KEYS, default 100 active per account
	KeyRate         float64 // HOOKLINE_KEY_RATE, default 1000: /v1 requests per second per key and API process (burst 2 s)
	AccountInFlight int     // HOOKLINE_ACCOUNT_IN_FLIGHT, default 20: deliveries in flight per account, all workers together
}

// Load reads the configuration through getenv. The error lists every bad
// value, one per line.
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}

	c := Config{
		Addr:     get("HOOKLINE_ADDR", ":8080"),
		RedisURL: get("HOOKLINE_REDIS_URL", "redis://127.0.0.1:6379/0"),
		Prefix:   get("HOOKLINE_REDIS_PREFIX", "hl"),
	}

	if _, port, ok := strings.Cut(c.Addr, ":"); !ok || port == "" {
		bad("HOOKLINE_ADDR", "%q must be host:port or :port", c.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("HOOKLINE_ADDR", "%q has no valid port", c.Addr)
	}

	if rdb, err := store.Open(c.RedisURL); err != nil {
		bad("HOOKLINE_REDIS_URL", "%v", err)
	} else {
		_ = rdb.Close()
	}

	switch m := Mode(get("HOOKLINE_MODE", string(Production))); m {
	case Production, Development:
		c.Mode = m
	default:
		bad("HOOKLINE_MODE", "%q must be production or development", m)
	}

	host := "localhost" + c.Addr
	if h, _, _ := strings.Cut(c.Addr, ":"); h != "" && h != "0.0.0.0" {
		host = c.Addr
	}
	raw := get("HOOKLINE_BASE_URL", "http://"+host)
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("HOOKLINE_BASE_URL", "%q must be an absolute http(s) URL", raw)
	} else {
		u.Path = strings.TrimSuffix(u.Path, "/")
		c.BaseURL = u
	}

	switch lv := strings.ToLower(get("HOOKLINE_LOG_LEVEL", "info")); lv {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		bad("HOOKLINE_LOG_LEVEL", "%q must be debug, info, warn or error", lv)
	}

	c.EventRetention = duration(get("HOOKLINE_EVENT_RETENTION", "720h"), "HOOKLINE_EVENT_RETENTION", bad)
	c.EventMax = positive(get("HOOKLINE_EVENT_MAX", "10000"), "HOOKLINE_EVENT_MAX", bad)
	c.MaxHops = positive(get("HOOKLINE_MAX_HOPS", "3"), "HOOKLINE_MAX_HOPS", bad)
	c.LoopWindow = duration(get("HOOKLINE_LOOP_WINDOW", "10m"), "HOOKLINE_LOOP_WINDOW", bad)
	c.LoopThreshold = positive(get("HOOKLINE_LOOP_THRESHOLD", "3"), "HOOKLINE_LOOP_THRESHOLD", bad)

	sched, err := retry.ParseList(get("HOOKLINE_RETRY_SCHEDULE", "5m,10m"))
	if err != nil {
		bad("HOOKLINE_RETRY_SCHEDULE", "%v", err)
	}
	c.RetrySchedule = sched

	if v := get("HOOKLINE_ALLOW_TARGETS", ""); v != "" {
		for _, s := range strings.Split(v, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				bad("HOOKLINE_ALLOW_TARGETS", "%q is not a CIDR range", strings.TrimSpace(s))
				continue
			}
			c.AllowTargets = append(c.AllowTargets, p.Masked())
		}
	}

	if kr, err := secrets.Parse(getenv("HOOKLINE_SECRET_KEYS")); err != nil {
		bad("HOOKLINE_SECRET_KEYS", "%v", err)
	} else {
		c.Secrets = kr
		if kr == nil && c.Mode == Production {
			bad("HOOKLINE_SECRET_KEYS", "is required in production: secrets are encrypted at rest; generate one with `hookline admin new-secret-key`")
		}
	}
	for _, h := range strings.Split(get("HOOKLINE_ZAPIER_HOOK_HOSTS", "hooks.zapier.com"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			c.ZapierHookHosts = append(c.ZapierHookHosts, h)
		}
	}
	c.QueueShards = positive(get("HOOKLINE_QUEUE_SHARDS", "1"), "HOOKLINE_QUEUE_SHARDS", bad)
	if c.QueueShards > 64 {
		bad("HOOKLINE_QUEUE_SHARDS", "must be at most 64")
	}
	c.WorkerConcurrency = positive(get("HOOKLINE_WORKER_CONCURRENCY", "50"), "HOOKLINE_WORKER_CONCURRENCY", bad)
	if c.WorkerConcurrency > 1000 {
		bad("HOOKLINE_WORKER_CONCURRENCY", "must be at most 1000")
	}
	c.ReconcileEvery = duration(get("HOOKLINE_RECONCILE_EVERY", "5s"), "HOOKLINE_RECONCILE_EVERY", bad)
	if c.ReconcileEvery < time.Second {
		bad("HOOKLINE_RECONCILE_EVERY", "must be at least 1s")
	}
	c.ReconcileGrace = duration(get("HOOKLINE_RECONCILE_GRACE", "15s"), "HOOKLINE_RECONCILE_GRACE", bad)
	if c.ReconcileGrace < 5*time.Second {
		bad("HOOKLINE_RECONCILE_GRACE", "must be at least 5s")
	}
	c.MetricsAddr = get("HOOKLINE_METRICS_ADDR", "")
	c.MetricsToken = get("HOOKLINE_METRICS_TOKEN", "")
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		bad("HOOKLINE_METRICS_TOKEN", "must be at least 16 characters")
	}

	c.Quotas = Quotas{
		Webhooks:        positive(get("HOOKLINE_MAX_WEBHOOKS", "500"), "HOOKLINE_MAX_WEBHOOKS", bad),
		EventTypes:      positive(get("HOOKLINE_MAX_EVENT_TYPES", "200"), "HOOKLINE_MAX_EVENT_TYPES", bad),
		SampleBytes:     positive(get("HOOKLINE_MAX_SAMPLE_BYTES", "1048576"), "HOOKLINE_MAX_SAMPLE_BYTES", bad),
		Endpoints:       positive(get("HOOKLINE_MAX_ENDPOINTS", "100"), "HOOKLINE_MAX_ENDPOINTS", bad),
		Keys:            positive(get("HOOKLINE_MAX_KEYS", "100"), "HOOKLINE_MAX_KEYS", bad),
		AccountInFlight: positive(get("HOOKLINE_ACCOUNT_IN_FLIGHT", "20"), "HOOKLINE_ACCOUNT_IN_FLIGHT", bad),
	}
	if r, err := strconv.ParseFloat(get("HOOKLINE_KEY_RATE", "1000"), 64); err != nil || r <= 0 || r > 1e6 {
		bad("HOOKLINE_KEY_RATE", "must be a positive number of requests per second")
	} else {
		c.Quotas.KeyRate = r
	}

	c.IFTTT = loadIFTTT(get, bad)

	return c, errors.Join(errs...)
}

// loadIFTTT reads the HOOKLINE_IFTTT_* block.
func loadIFTTT(get func(name, def string) string, bad func(string, string, ...any)) IFTTT {
	i := IFTTT{
		ServiceKey:   get("HOOKLINE_IFTTT_SERVICE_KEY", ""),
		ClientID:     get("HOOKLINE_IFTTT_CLIENT_ID", ""),
		ClientSecret: get("HOOKLINE_IFTTT_CLIENT_SECRET", ""),
		ServiceID:    get("HOOKLINE_IFTTT_SERVICE_ID", ""),
	}
	set := map[string]string{
		"HOOKLINE_IFTTT_SERVICE_KEY": i.ServiceKey, "HOOKLINE_IFTTT_CLIENT_ID": i.ClientID,
		"HOOKLINE_IFTTT_CLIENT_SECRET": i.ClientSecret, "HOOKLINE_IFTTT_SERVICE_ID": i.ServiceID,
	}
	given := false
	for _, v := range set {
		given = given || v != ""
	}
	if given {
		for _, name := range []string{"HOOKLINE_IFTTT_SERVICE_KEY", "HOOKLINE_IFTTT_CLIENT_ID", "HOOKLINE_IFTTT_CLIENT_SECRET", "HOOKLINE_IFTTT_SERVICE_ID"} {
			if set[name] == "" {
				bad(name, "is required when any HOOKLINE_IFTTT_* setting is given")
			}
		}
	}
	if i.ServiceKey != "" && len(i.ServiceKey) < 16 {
		bad("HOOKLINE_IFTTT_SERVICE_KEY", "must be at least 16 characters")
	}
	if i.ClientSecret != "" && len(i.ClientSecret) < 16 {
		bad("HOOKLINE_IFTTT_CLIENT_SECRET", "must be at least 16 characters")
	}
	if i.ServiceID != "" && !serviceIDPattern.MatchString(i.ServiceID) {
		bad("HOOKLINE_IFTTT_SERVICE_ID", "%q must be IFTTT's service slug (letters, digits, _ and -)", i.ServiceID)
	}
	raw := get("HOOKLINE_IFTTT_REALTIME_URL", "https://realtime.ifttt.com")
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("HOOKLINE_IFTTT_REALTIME_URL", "%q must be an absolute http(s) URL", raw)
	} else {
		u.Path = strings.TrimSuffix(u.Path, "/")
		i.RealtimeURL = u
	}
	return i
}

var serviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

func duration(v, name string, bad func(string, string, ...any)) time.Duration {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		bad(name, "%q must be a positive duration such as 720h", v)
	}
	return d
}

func positive(v, name string, bad func(string, string, ...any)) int {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		bad(name, "%q must be a positive whole number", v)
	}
	return n
}

// String shows the effective configuration with the Redis password masked,
// so it can be logged at start.
func (c Config) String() string {
	base := ""
	if c.BaseURL != nil {
		base = c.BaseURL.String()
	}
	return fmt.Sprintf("addr=%s redis=%s mode=%s base_url=%s prefix=%s retry_schedule=%v max_hops=%d allow_targets=%v secret_key=%q metrics_addr=%s metrics_token=%v quotas=%+v ifttt=%v",
		c.Addr, MaskURL(c.RedisURL), c.Mode, base, c.Prefix, c.RetrySchedule, c.MaxHops, c.AllowTargets,
		c.Secrets.CurrentID(), c.MetricsAddr, c.MetricsToken != "", c.Quotas, c.IFTTT.Enabled())
}

// MaskURL hides a URL's password.
func MaskURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return raw
	}
	return scheme + "://" + user + ":*****" + rest[at:]
}
