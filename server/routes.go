package server

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/jobs"
)

// routes lists every package's routes: the whole API on one page.
func (s *Server) routes(app *fiber.App) {
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", func(c *fiber.Ctx) error {
		if err := s.Ready(c.UserContext()); err != nil {
			s.Log.Warn("readyz: redis unreachable", "err", err)
			return apperr.New(apperr.CodeUnavailable, "redis is not reachable")
		}
		return c.JSON(fiber.Map{"status": "ready"})
	})
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})))

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
	s.Endpoints.RegisterPublic(app) // POST /in/:token: no API key, the token is the credential
}

// jobs lists every package's task handlers, queues and background loops.
func (s *Server) jobs() jobs.Set {
	return jobs.Merge(s.Events.Jobs(), s.Outbound.Jobs())
}
