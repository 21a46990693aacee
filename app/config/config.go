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
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/app/retry"
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

	return c, errors.Join(errs...)
}

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
	return fmt.Sprintf("addr=%s redis=%s mode=%s base_url=%s prefix=%s retry_schedule=%v max_hops=%d allow_targets=%v",
		c.Addr, MaskURL(c.RedisURL), c.Mode, base, c.Prefix, c.RetrySchedule, c.MaxHops, c.AllowTargets)
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
