package catalog

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/perm"
)

type handlers struct{ svc *Service }

// Register adds the catalog routes to an authenticated router. Reading the
// catalog needs only a valid key: it holds names and samples, no data.
func (s *Service) Register(r fiber.Router, need httpapi.Need) {
	h := &handlers{svc: s}
	r.Get("/event-types", h.list)
	r.Post("/event-types", need(perm.ManageWebhook), h.create)
}

func (h *handlers) list(c *fiber.Ctx) error {
	return httpapi.List(c, func(after string, limit int) ([]EventType, string, error) {
		return h.svc.List(c.UserContext(), httpapi.Principal(c).AccountID, after, limit)
	}, httpapi.Same[EventType])
}

func (h *handlers) create(c *fiber.Ctx) error {
	var req NewType
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	t, err := h.svc.Create(c.UserContext(), httpapi.Principal(c), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(t)
}
