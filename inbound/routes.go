package inbound

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/httpapi"
)

// OriginFrom reads the causality headers of a request into an Origin.
func OriginFrom(c *fiber.Ctx) Origin {
	var o Origin
	o.Chain, o.Hop, o.HasChain = httpapi.Causality(c)
	return o
}

// Register adds the actions and incidents routes to an authenticated router.
// Each action checks its own permission, and the incident methods theirs
// (subscribe:webhook or manage:webhook).
func (s *Service) Register(r fiber.Router, _ httpapi.Need) {
	h := &handlers{svc: s}
	r.Get("/actions", h.list)
	r.Post("/actions/:action", h.run)
	r.Get("/incidents", h.incidents)
	r.Post("/incidents/:id/resolve", h.resolve)
}
