package ifttt

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/httpapi"
)

// handlers serve the Service API; they hold the Service, never the store.
type handlers struct{ svc *Service }

type localKey int

const localPrincipal localKey = 0

// principal is the bearer's principal; it panics on a route without
// bearer, which is a wiring bug.
func principal(c *fiber.Ctx) auth.Principal {
	p, ok := c.Locals(localPrincipal).(auth.Principal)
	if !ok {
		panic("ifttt: principal on a route without bearer")
	}
	return p
}

// bearer authenticates the connection's access token.
func (h *handlers) bearer(c *fiber.Ctx) error {
	scheme, tok, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
		return apperr.Unauthorized("missing access token: send Authorization: Bearer <token>")
	}
	tok = strings.Clone(strings.TrimSpace(tok))
	p, err := h.svc.Authenticate(c.UserContext(), tok)
	if err != nil {
		return err
	}
	c.Locals(localPrincipal, p)
	return c.Next()
}

// serviceKey requires IFTTT-Service-Key.
func (h *handlers) serviceKey(c *fiber.Ctx) error {
	if err := h.svc.CheckServiceKey(c.Get("IFTTT-Service-Key")); err != nil {
		return err
	}
	return c.Next()
}

// decode reads an optional JSON object body, ignoring unknown keys (IFTTT
// adds fields over time). Malformed JSON is a 400.
func decode(c *fiber.Ctx, v any) error {
	body, err := httpapi.Body(c)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return apperr.BadRequest("The request body is not valid JSON.")
	}
	return nil
}

// fieldValues turns IFTTT's field values into strings.
func fieldValues(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case nil:
		case string:
			out[k] = x
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

// limitOf applies IFTTT's limit: absent means 50, 0 is honoured, the most
// is 200.
func limitOf(l *int) (int, error) {
	switch {
	case l == nil:
		return defaultLimit, nil
	case *l < 0:
		return 0, apperr.BadRequest("limit must not be negative")
	case *l > maxLimit:
		return maxLimit, nil
	}
	return *l, nil
}

func (h *handlers) status(c *fiber.Ctx) error {
	return reply(c, fiber.StatusOK, map[string]any{"data": map[string]string{"status": "ok"}})
}

func (h *handlers) testSetup(c *fiber.Ctx) error {
	out, err := h.svc.TestSetup(c.UserContext())
	if err != nil {
		return err
	}
	return reply(c, fiber.StatusOK, map[string]any{"data": out})
}

type userInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

func (h *handlers) userInfo(c *fiber.Ctx) error {
	u, err := h.svc.UserInfo(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return reply(c, fiber.StatusOK, map[string]any{"data": userInfo{ID: u.ID, Name: u.Name, URL: u.URL}})
}

type triggerBody struct {
	TriggerIdentity string         `json:"trigger_identity"`
	TriggerFields   map[string]any `json:"triggerFields"`
	Limit           *int           `json:"limit"`
}

func (h *handlers) trigger(c *fiber.Ctx) error {
	var b triggerBody
	if err := decode(c, &b); err != nil {
		return err
	}
	limit, err := limitOf(b.Limit)
	if err != nil {
		return err
	}
	items, err := h.svc.Poll(c.UserContext(), principal(c), httpapi.Param(c, "slug"), TriggerRequest{
		Identity: b.TriggerIdentity, Fields: fieldValues(b.TriggerFields), Limit: limit,
	})
	if err != nil {
		return err
	}
	return reply(c, fiber.StatusOK, map[string]any{"data": items})
}

func (h *handlers) forgetIdentity(c *fiber.Ctx) error {
	if err := h.svc.ForgetIdentity(c.UserContext(), httpapi.Param(c, "slug"), httpapi.Param(c, "id")); err != nil {
		return err
	}
	return reply(c, fiber.StatusOK, map[string]any{"data": map[string]any{}})
}

func (h *handlers) eventTypeOptions(c *fiber.Ctx) error {
	opts, err := h.svc.EventTypeOptions(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return reply(c, fiber.StatusOK, map[string]any{"data": opts})
}

// validateField answers …/fields/event_type/validate ({"value": …}).
func (h *handlers) validateField(c *fiber.Ctx) error {
	var b struct {
		Value any `json:"value"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	v, err := h.svc.ValidateEventType(c.UserContext(), principal(c), fieldValues(map[string]any{"v": b.Value})["v"])
	if err != nil {
		return err
	}
	return reply(c, fiber.StatusOK, map[string]any{"data": v})
}

// validateFields answers /triggers/new_event/fields/validate, the
// trigger-level validation of IFTTT's OpenAPI definition: {"values":
// {field: value}} → {"data": {field: {"valid", "message"?}}}.
func (h *handlers) validateFields(c *fiber.Ctx) error {
	var b struct {
		Values map[string]any `json:"values"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	v, err := h.svc.ValidateEventType(c.UserContext(), principal(c), fieldValues(b.Values)[fieldEventType])
	if err != nil {
		return err
	}
	return reply(c, fiber.StatusOK, map[string]any{"data": map[string]Validation{fieldEventType: v}})
}

// validateTrigger answers /triggers/new_event/validate ({"triggerFields":
// …}) with one validation per field and the overall one: the shape this
// service offered before it followed IFTTT's OpenAPI definition
// (validateFields), kept for services configured against it.
func (h *handlers) validateTrigger(c *fiber.Ctx) error {
	var b triggerBody
	if err := decode(c, &b); err != nil {
		return err
	}
	v, err := h.svc.ValidateEventType(c.UserContext(), principal(c), fieldValues(b.TriggerFields)[fieldEventType])
	if err != nil {
		return err
	}
	return reply(c, fiber.StatusOK, map[string]any{"data": map[string]any{
		"valid": v.Valid, "message": v.Message, fieldEventType: v,
	}})
}

type actionBody struct {
	ActionFields map[string]any `json:"actionFields"`
}

type idItem struct {
	ID string `json:"id"`
}

func (h *handlers) action(c *fiber.Ctx) error {
	var b actionBody
	if err := decode(c, &b); err != nil {
		return err
	}
	if b.ActionFields == nil {
		return apperr.BadRequest("missing actionFields")
	}
	id, err := h.svc.RunAction(c.UserContext(), principal(c), httpapi.Param(c, "slug"), fieldValues(b.ActionFields))
	if err != nil {
		return err
	}
	return reply(c, fiber.StatusOK, map[string]any{"data": []idItem{{ID: id}}})
}

type queryBody struct {
	Cursor string `json:"cursor"`
	Limit  *int   `json:"limit"`
}

func (h *handlers) listCustomers(c *fiber.Ctx) error {
	var b queryBody
	if err := decode(c, &b); err != nil {
		return err
	}
	limit, err := limitOf(b.Limit)
	if err != nil {
		return err
	}
	items, next, err := h.svc.ListCustomers(c.UserContext(), principal(c), b.Cursor, limit)
	if err != nil {
		return err
	}
	out := map[string]any{"data": items}
	if next != "" {
		out["cursor"] = next
	}
	return reply(c, fiber.StatusOK, out)
}
