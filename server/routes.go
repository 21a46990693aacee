package server

import (
	"crypto/subtle"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/config"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/jobs"
)

// routes lists every package's routes: the whole API on one page.
func (s *Server) routes(app *fiber.App) {
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", func(c *fiber.Ctx) error {
		if err := s.Ready(c.UserContext()); err != nil {
			s.Log.Warn("readyz: redis does not take writes", "err", err)
			return apperr.New(apperr.CodeUnavailable, "redis is not reachable or does not take writes")
		}
		return c.JSON(fiber.Map{"status": "ready"})
	})
	if h := s.metricsOnAPI(); h != nil {
		app.Get("/metrics", h)
	}

	v1 := app.Group("/v1",
		httpapi.Authenticate(s.Accounts.Authenticate),
		httpapi.KeyRate(s.Config.Quotas.KeyRate, 100_000),
		s.Idem.Middleware(httpapi.Principal),
	)
	need := httpapi.Need(httpapi.Require)
	s.Accounts.Register(v1, need)
	s.Catalog.Register(v1, need)
	s.Events.Register(v1, need)
	s.Customers.Register(v1, need)
	s.Outbound.Register(v1, need)
	s.Zapier.Register(v1, need)
	s.Inbound.Register(v1, need)
	s.Endpoints.Register(v1, need)
	s.IFTTT.Register(v1, need)      // /v1/oauth/connections: a user's IFTTT connections
	s.Endpoints.RegisterPublic(app) // POST /in/:token: no API key, the token is the credential
	s.IFTTT.RegisterPublic(app)     // /ifttt/v1/* (service key or IFTTT bearer token) and /oauth/*
	s.Web.Register(app)             // the dashboard: sessions and CSRF on its own routes only
}

// jobs lists every package's task handlers, queues and background loops.
func (s *Server) jobs() jobs.Set {
	return jobs.Merge(s.Events.Jobs(), s.Outbound.Jobs(), s.IFTTT.Jobs())
}

// MetricsHandler serves the Prometheus registry, for a listener of its own
// (HOOKLINE_METRICS_ADDR).
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})
}

// metricsOnAPI decides how /metrics is served on the API listener: not at
// all when it has its own listener; behind HOOKLINE_METRICS_TOKEN when one
// is set; open in development; and not at all in production without a
// token, since route counters tell outsiders what the API is used for.
func (s *Server) metricsOnAPI() fiber.Handler {
	cfg := s.Config
	h := adaptor.HTTPHandler(s.MetricsHandler())
	switch {
	case cfg.MetricsAddr != "":
		return nil
	case cfg.MetricsToken != "":
		want := []byte("Bearer " + cfg.MetricsToken)
		return func(c *fiber.Ctx) error {
			if subtle.ConstantTimeCompare([]byte(c.Get(fiber.HeaderAuthorization)), want) != 1 {
				return apperr.Unauthorized("send Authorization: Bearer <HOOKLINE_METRICS_TOKEN>")
			}
			return h(c)
		}
	case cfg.Mode == config.Development:
		return h
	}
	return nil
}
