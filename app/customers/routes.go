package customers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/perm"
)

type handlers struct{ svc *Service }

// cause continues the request's causal chain, if it carries one.
func cause(c *fiber.Ctx) events.Cause {
	if chain, hop, ok := httpapi.Causality(c); ok {
		return events.Cause{Chain: chain, Hop: hop + 1}
	}
	return events.Cause{}
}

// Register adds the customer routes to an authenticated router.
func (s *Service) Register(r fiber.Router, need httpapi.Need) {
	h := &handlers{svc: s}
	r.Post("/customers", need(perm.CreateCustomer), h.create)
	r.Get("/customers", need(perm.ReadCustomer), h.list)
	r.Get("/customers/:id", need(perm.ReadCustomer), h.get)
	r.Patch("/customers/:id", need(perm.UpdateCustomer), h.update)
	r.Delete("/customers/:id", need(perm.DeleteCustomer), h.delete)
}

func (h *handlers) create(c *fiber.Ctx) error {
	var req NewCustomer
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	cu, err := h.svc.Create(c.UserContext(), httpapi.Principal(c), req, cause(c))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(cu)
}

func (h *handlers) list(c *fiber.Ctx) error {
	return httpapi.List(c, func(after string, limit int) ([]Customer, string, error) {
		return h.svc.List(c.UserContext(), httpapi.Principal(c), httpapi.Query(c, "email"), after, limit)
	}, httpapi.Same[Customer])
}

func (h *handlers) get(c *fiber.Ctx) error {
	cu, err := h.svc.Get(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(cu)
}

func (h *handlers) update(c *fiber.Ctx) error {
	var req Patch
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	cu, _, err := h.svc.Update(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"), req, cause(c))
	if err != nil {
		return err
	}
	return c.JSON(cu)
}

func (h *handlers) delete(c *fiber.Ctx) error {
	cu, err := h.svc.Delete(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"), cause(c))
	if err != nil {
		return err
	}
	return c.JSON(cu)
}
