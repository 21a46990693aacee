package outbound

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/httpapi"
)

// Register adds the webhook and delivery routes to an authenticated router.
// Each needs subscribe:webhook (one's own webhooks) or manage:webhook (all of
// the account's); the service checks which, and event read permissions.
func (s *Service) Register(r fiber.Router, _ httpapi.Need) {
	h := &handlers{svc: s}
	r.Post("/webhooks", h.create)
	r.Get("/webhooks", h.list)
	r.Get("/webhooks/:id", h.get)
	r.Patch("/webhooks/:id", h.update)
	r.Delete("/webhooks/:id", h.delete)
	r.Post("/webhooks/:id/rotate-secret", h.rotate)
	r.Post("/webhooks/:id/test", h.test)
	r.Get("/webhooks/:id/deliveries", h.deliveries)
	r.Post("/webhooks/:id/redeliver-failed", h.redeliverMatching)
	r.Get("/events/:id/deliveries", h.eventDeliveries)
	r.Get("/deliveries/:id", h.delivery)
	r.Post("/deliveries/:id/redeliver", h.redeliver)
}
