package ifttt

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/idempotency"
)

// SessionFunc reads the principal of a sign-in the request already carries
// (the dashboard's session cookie), and false when it carries none. The
// composition root passes the dashboard's, since ifttt may not import web.
type SessionFunc func(c *fiber.Ctx) (auth.Principal, bool)

// RegisterPublic adds the routes IFTTT calls, outside /v1's API-key
// authentication: the Service API under /ifttt/v1 (errors as
// {"errors":[{"message"}]}, gzip when asked) and the authorization server
// under /oauth (HTML pages; RFC 6749 bodies on /oauth/token). Without a
// service key every one of them is a 404.
func (s *Service) RegisterPublic(app fiber.Router) {
	h := &handlers{svc: s}
	api := app.Group("/ifttt/v1", httpapi.RenderWith(renderService), s.enabled, compress.New())
	api.Get("/status", h.serviceKey, h.status)
	api.Post("/test/setup", h.serviceKey, h.testSetup)
	api.Get("/user/info", h.bearer, h.userInfo)
	api.Post("/triggers/new_event/fields/event_type/options", h.bearer, h.eventTypeOptions)
	api.Post("/triggers/new_event/fields/event_type/validate", h.bearer, h.validateField)
	api.Post("/triggers/new_event/fields/validate", h.bearer, h.validateFields)
	api.Post("/triggers/new_event/validate", h.bearer, h.validateTrigger)
	api.Post("/triggers/:slug", h.bearer, h.trigger)
	api.Delete("/triggers/:slug/trigger_identity/:id", h.serviceKey, h.forgetIdentity)
	api.Post("/actions/:slug", h.bearer, s.idempotent(), h.action)
	api.Post("/queries/list_customers", h.bearer, h.listCustomers)
	api.Use(func(c *fiber.Ctx) error { return apperr.NotFound("IFTTT endpoint") })

	pg := &pages{svc: s}
	oauth := app.Group("/oauth", s.enabled)
	oauth.Post("/token", httpapi.RenderWith(renderToken), pg.token)
	pages := oauth.Group("", httpapi.RenderWith(renderPageError))
	pages.Get("/authorize", pg.authorize)
	pages.Post("/signin", pg.signIn)
	pages.Post("/consent", pg.consent)
}

// Register adds the connection routes to /v1 (API-key authentication):
// a user lists and revokes their IFTTT connections there.
func (s *Service) Register(r fiber.Router, need httpapi.Need) {
	h := &handlers{svc: s}
	r.Get("/oauth/connections", h.listConnections)
	r.Delete("/oauth/connections/:id", h.revokeConnection)
}

// enabled answers 404 on every IFTTT route when no service key is set.
func (s *Service) enabled(c *fiber.Ctx) error {
	if !s.Enabled() {
		return apperr.NotFound("route")
	}
	return c.Next()
}

// idempotent applies the idempotency middleware to actions: an explicit
// Idempotency-Key, else IFTTT's X-Request-ID, so a retried action is
// answered from its first response.
func (s *Service) idempotent() fiber.Handler {
	mw := s.d.Idem.Middleware(principal)
	return func(c *fiber.Ctx) error {
		if c.Get(idempotency.HeaderKey) == "" {
			if rid := strings.TrimSpace(c.Get("X-Request-ID")); rid != "" {
				c.Request().Header.Set(idempotency.HeaderKey, "ifttt:"+rid)
			}
		}
		return mw(c)
	}
}

type connectionResponse struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	ClientID   string     `json:"client_id"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func newConnectionResponse(c Connection) connectionResponse {
	return connectionResponse{ID: c.ID, UserID: c.UserID, Name: "IFTTT", ClientID: c.ClientID, CreatedAt: c.CreatedAt,
		LastUsedAt: httpapi.Time(c.LastUsedAt), RevokedAt: httpapi.Time(c.RevokedAt)}
}

func (h *handlers) listConnections(c *fiber.Ctx) error {
	p := httpapi.Principal(c)
	return httpapi.List(c, func(after string, limit int) ([]Connection, string, error) {
		return h.svc.Connections(c.UserContext(), p, after, limit)
	}, newConnectionResponse)
}

func (h *handlers) revokeConnection(c *fiber.Ctx) error {
	conn, err := h.svc.RevokeConnection(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(newConnectionResponse(conn))
}
