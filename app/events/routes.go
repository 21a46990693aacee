package events

import (
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/perm"
)

type handlers struct{ log *Log }

// Register adds the event log routes to an authenticated router.
func (l *Log) Register(r fiber.Router, need httpapi.Need) {
	h := &handlers{log: l}
	r.Get("/events", h.list)
	r.Post("/events", need(perm.PublishEvent), h.publish)
	r.Get("/events/:id", h.get)
}

func (h *handlers) list(c *fiber.Ctx) error {
	return httpapi.List(c, func(after string, limit int) ([]Event, string, error) {
		return h.log.List(c.UserContext(), httpapi.Principal(c), httpapi.Query(c, "type"), after, limit)
	}, httpapi.Same[Event])
}

func (h *handlers) get(c *fiber.Ctx) error {
	ev, err := h.log.Event(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(ev)
}

type publishRequest struct {
	Type string          `json:"type" validate:"required,max=81"`
	Data json.RawMessage `json:"data" validate:"required"`
}

type publishResponse struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
}

func (h *handlers) publish(c *fiber.Ctx) error {
	var req publishRequest
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	var cause Cause
	if chain, hop, ok := httpapi.Causality(c); ok {
		cause = Cause{Chain: chain, Hop: hop + 1}
	}
	ev, err := h.log.Publish(c.UserContext(), httpapi.Principal(c), req.Type, req.Data, cause)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(publishResponse{ID: ev.ID, Type: ev.Type, CreatedAt: ev.CreatedAt})
}
