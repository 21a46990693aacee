package inbound

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/httpapi"
)

// OriginFrom reads the causality headers of a request into an Origin.
func OriginFrom(c *fiber.Ctx) Origin {
	var o Origin
	o.Chain, o.Hop, o.HasChain = httpapi.Causality(c)
	return o
}

type handlers struct{ svc *Service }

// Register adds the actions and incidents routes to an authenticated router.
// Each action checks its own permission.
func (s *Service) Register(r fiber.Router, _ httpapi.Need) {
	h := &handlers{svc: s}
	r.Get("/actions", h.list)
	r.Post("/actions/:action", h.run)
	r.Get("/incidents", h.incidents)
	r.Post("/incidents/:id/resolve", h.resolve)
}

func (h *handlers) list(c *fiber.Ctx) error {
	return c.JSON(httpapi.NewPage(Actions, ""))
}

func (h *handlers) run(c *fiber.Ctx) error {
	body, err := httpapi.Body(c)
	if err != nil {
		return err
	}
	if ct := c.Get(fiber.HeaderContentType); ct != "" && !jsonType(ct) {
		return apperr.New(apperr.CodeUnsupportedMedia, "send the body as application/json")
	}
	var input map[string]any
	if err := json.Unmarshal(body, &input); err != nil || input == nil {
		return apperr.BadRequest("the request body must be a JSON object")
	}
	res, err := h.svc.Run(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "action"), input, OriginFrom(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(res.Status).Send(res.Body)
}

func jsonType(ct string) bool {
	return len(ct) >= 16 && (ct[:16] == fiber.MIMEApplicationJSON)
}

type incidentResponse struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Status     string     `json:"status"`
	Resource   string     `json:"resource"`
	Chain      *string    `json:"chain"`
	Credential *string    `json:"credential,omitempty"`
	Endpoint   *string    `json:"endpoint,omitempty"`
	Paused     bool       `json:"paused"`
	Suppressed int        `json:"suppressed"`
	Events     []string   `json:"events"`
	Deliveries []string   `json:"deliveries"`
	Message    string     `json:"message"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
}

func newIncidentResponse(inc Incident) incidentResponse {
	r := incidentResponse{ID: inc.ID, Kind: "loop", Status: inc.Status, Resource: inc.Resource,
		Paused: inc.Paused != "" && inc.Status == "open", Suppressed: inc.Suppressed,
		Events: inc.Events, Deliveries: inc.Deliveries, CreatedAt: inc.CreatedAt, UpdatedAt: inc.UpdatedAt,
		ResolvedAt: httpapi.Time(inc.ResolvedAt)}
	if inc.Chain != "" {
		r.Chain = &inc.Chain
	}
	writer := "a writer"
	if inc.Credential != "" {
		r.Credential = &inc.Credential
		writer = "API key " + inc.Credential
	}
	if inc.Endpoint != "" {
		r.Endpoint = &inc.Endpoint
		writer = "inbound endpoint " + inc.Endpoint
	}
	r.Message = writer + " kept writing back states of " + inc.Resource + " that Hookline had just sent it; " +
		strconv.Itoa(inc.Suppressed) + " such writes were suppressed."
	if r.Paused {
		r.Message += " It is paused until this incident is resolved."
	}
	return r
}

func (h *handlers) incidents(c *fiber.Ctx) error {
	limit, after, err := httpapi.ListParams(c)
	if err != nil {
		return err
	}
	incs, next, err := h.svc.Incidents(c.UserContext(), httpapi.Principal(c), after, limit)
	if err != nil {
		return err
	}
	out := make([]incidentResponse, len(incs))
	for i, inc := range incs {
		out[i] = newIncidentResponse(inc)
	}
	return c.JSON(httpapi.NewPage(out, next))
}

func (h *handlers) resolve(c *fiber.Ctx) error {
	inc, err := h.svc.Resolve(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(newIncidentResponse(inc))
}
