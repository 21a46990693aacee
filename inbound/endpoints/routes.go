package endpoints

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/httpapi"
)

// Register adds the endpoint management routes to an authenticated router.
// The permission each needs is the endpoint's action's (create:customer for
// create_customer, …), so the service checks it; other users' endpoints are
// a 404 without manage:webhook.
func (s *Service) Register(r fiber.Router, _ httpapi.Need) {
	h := &handlers{svc: s}
	r.Post("/inbound-endpoints", h.create)
	r.Get("/inbound-endpoints", h.list)
	r.Get("/inbound-endpoints/:id", h.get)
	r.Patch("/inbound-endpoints/:id", h.update)
	r.Delete("/inbound-endpoints/:id", h.delete)
	r.Post("/inbound-endpoints/:id/rotate-token", h.rotate)
	r.Get("/inbound-endpoints/:id/requests", h.requests)
}

// RegisterPublic adds POST /in/:token to the app root. It takes no API key:
// the token in the URL and the endpoint's verification stand in for one.
func (s *Service) RegisterPublic(r fiber.Router) {
	h := &handlers{svc: s}
	r.Post("/in/:token", h.receive)
}
