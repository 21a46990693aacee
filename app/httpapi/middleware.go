package httpapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/ids"
)

type localKey int

const (
	localRequestID localKey = iota
	localPrincipal
	localRenderer
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-ID"

// Param returns a copy of a route parameter; Fiber reuses its buffers.
func Param(c *fiber.Ctx, name string) string { return strings.Clone(c.Params(name)) }

// Query returns a copy of a query parameter.
func Query(c *fiber.Ctx, name string) string { return strings.Clone(c.Query(name)) }

// Header returns a copy of a request header.
func Header(c *fiber.Ctx, name string) string { return strings.Clone(c.Get(name)) }

// Causality headers: every delivery carries them, and a write that brings
// them back continues that causal chain (DESIGN.md, loop safety).
const (
	HeaderChain = "Hookline-Chain"
	HeaderHop   = "Hookline-Hop"
)

// Causality reads Hookline-Chain and Hookline-Hop. ok is false unless both
// are present and well formed; a half-sent or malformed pair starts a new
// chain. The chain is sent on in every delivery the write causes, so it
// must be a safe header value: 1 to 64 of [A-Za-z0-9_-] (Hookline's own
// are chn_…); anything else (control characters, spaces) would make every
// one of those deliveries fail.
func Causality(c *fiber.Ctx) (chain string, hop int, ok bool) {
	chain, raw := strings.TrimSpace(c.Get(HeaderChain)), strings.TrimSpace(c.Get(HeaderHop))
	if raw == "" || !validChain(chain) {
		return "", 0, false
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > 1000 {
		return "", 0, false
	}
	return strings.Clone(chain), n, true
}

func validChain(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// RequestID returns the current request's id ("" before the middleware ran).
func RequestID(c *fiber.Ctx) string {
	s, _ := c.Locals(localRequestID).(string)
	return s
}

func routePath(c *fiber.Ctx) string {
	if r := c.Route(); r != nil && r.Path != "" && r.Path != "/" {
		return r.Path
	}
	return "unmatched"
}

// methodName returns a constant for the method: c.Method() is a view into
// a reused buffer and must not be kept (metric labels are kept).
func methodName(m string) string {
	for _, known := range []string{fiber.MethodGet, fiber.MethodPost, fiber.MethodPatch, fiber.MethodDelete,
		fiber.MethodPut, fiber.MethodHead, fiber.MethodOptions} {
		if m == known {
			return known
		}
	}
	return "OTHER"
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Metrics are the HTTP metrics Observe records.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hookline_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// Observe is the outermost middleware: it assigns the request id, renders
// any error through the app's ErrorHandler (so the logged status is the one
// sent), recovers panics as 500s, writes one access log line and records
// metrics. Paths are logged as route patterns so secrets in URLs (inbound
// tokens) never reach the log; headers and bodies are never logged.
func Observe(log *slog.Logger, m *Metrics) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		start := time.Now()
		rid := c.Get(HeaderRequestID)
		if !validRequestID(rid) {
			rid = ids.New(ids.Request, start)
		} else {
			rid = strings.Clone(rid)
		}
		c.Locals(localRequestID, rid)
		c.Set(HeaderRequestID, rid)

		func() {
			defer func() {
				if r := recover(); r != nil {
					log.Error("panic", "request_id", rid, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					err = apperr.New(apperr.CodeInternal, "internal error")
				}
			}()
			err = c.Next()
		}()
		if err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				c.Status(fiber.StatusInternalServerError)
			}
			err = nil
		}

		status := c.Response().StatusCode()
		route := routePath(c)
		method := methodName(c.Method())
		elapsed := time.Since(start)
		if m != nil {
			m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
			m.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
		}
		attrs := []any{"request_id", rid, "method", method, "route", route,
			"status", status, "duration_ms", float64(elapsed.Microseconds()) / 1000}
		if p, ok := c.Locals(localPrincipal).(auth.Principal); ok {
			attrs = append(attrs, "account_id", p.AccountID, "credential", p.Credential.String())
		}
		log.Info("http", attrs...)
		return nil
	}
}

// Authenticator resolves a raw API key to its principal. It returns an
// unauthorized *apperr.Error for unknown, malformed or revoked keys.
type Authenticator func(ctx context.Context, rawKey string) (auth.Principal, error)

// Authenticate requires an API key in "Authorization: Bearer …" or
// "X-API-Key" and stores the principal for the handlers.
func Authenticate(authn Authenticator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := APIKey(c)
		if key == "" {
			return apperr.Unauthorized("missing API key: send Authorization: Bearer hk_…")
		}
		p, err := authn(c.UserContext(), key)
		if err != nil {
			return err
		}
		c.Locals(localPrincipal, p)
		return c.Next()
	}
}

// APIKey returns the request's API key, copied, or "".
func APIKey(c *fiber.Ctx) string {
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && subtle.ConstantTimeCompare([]byte(strings.ToLower(scheme)), []byte("bearer")) == 1 {
			return strings.Clone(strings.TrimSpace(tok))
		}
		return ""
	}
	return strings.Clone(c.Get("X-API-Key"))
}

// Principal returns the authenticated caller. It panics when called on a
// route without Authenticate, which is a wiring bug.
func Principal(c *fiber.Ctx) auth.Principal {
	p, ok := c.Locals(localPrincipal).(auth.Principal)
	if !ok {
		panic("httpapi: Principal on an unauthenticated route")
	}
	return p
}

// Need is a route guard: the caller must hold every listed permission.
type Need func(perms ...string) fiber.Handler

// Require builds Need.
func Require(perms ...string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := Principal(c).Require(perms...); err != nil {
			return err
		}
		return c.Next()
	}
}
