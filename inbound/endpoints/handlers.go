package endpoints

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/idempotency"
)

type handlers struct{ svc *Service }

type endpointResponse struct {
	ID           string           `json:"id"`
	Name         string           `json:"name"`
	Action       string           `json:"action"`
	Mapping      Mapping          `json:"mapping"`
	Verification VerificationView `json:"verification"`
	SuccessURL   *string          `json:"success_url"`
	Paused       bool             `json:"paused"`
	RateLimit    int              `json:"rate_limit"`
	OwnerID      string           `json:"owner_id"`
	CreatedBy    *createdBy       `json:"created_by"`
	Refused      Refused          `json:"refused"`
	CreatedAt    time.Time        `json:"created_at"`
	UpdatedAt    time.Time        `json:"updated_at"`
}

// createdBy is the credential that created an endpoint; null when unknown.
type createdBy struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

func newEndpointResponse(e Endpoint) endpointResponse {
	m := e.Mapping
	if m == nil {
		m = Mapping{}
	}
	r := endpointResponse{ID: e.ID, Name: e.Name, Action: e.Action, Mapping: m, Verification: e.Verification.View(),
		Paused: e.Paused, RateLimit: e.RateLimit, OwnerID: e.OwnerID, Refused: e.Refused, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if c := e.CreatedBy(); c.ID != "" {
		r.CreatedBy = &createdBy{Kind: string(c.Kind), ID: c.ID}
	}
	if e.SuccessURL != "" {
		r.SuccessURL = &e.SuccessURL
	}
	return r
}

type endpointCreated struct {
	endpointResponse
	URL    string  `json:"url"`
	Secret *string `json:"secret"`
}

type endpointUpdated struct {
	endpointResponse
	Secret *string `json:"secret,omitempty"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (h *handlers) create(c *fiber.Ctx) error {
	var req NewEndpoint
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	e, sec, err := h.svc.Create(c.UserContext(), httpapi.Principal(c), req)
	if err != nil {
		return err
	}
	// The URL (its token) and the verification secret are shown once: a
	// replay answers the endpoint without them.
	idempotency.ReplayAs(c, newEndpointResponse(e))
	return c.Status(fiber.StatusCreated).JSON(endpointCreated{
		endpointResponse: newEndpointResponse(e), URL: h.svc.URL(sec.Token), Secret: optional(sec.Verification),
	})
}

func (h *handlers) list(c *fiber.Ctx) error {
	return httpapi.List(c, func(after string, limit int) ([]Endpoint, string, error) {
		return h.svc.Endpoints(c.UserContext(), httpapi.Principal(c), after, limit)
	}, newEndpointResponse)
}

func (h *handlers) get(c *fiber.Ctx) error {
	e, err := h.svc.Endpoint(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(newEndpointResponse(e))
}

func (h *handlers) update(c *fiber.Ctx) error {
	var req Patch
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	e, sec, err := h.svc.Update(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"), req)
	if err != nil {
		return err
	}
	return c.JSON(endpointUpdated{endpointResponse: newEndpointResponse(e), Secret: optional(sec)})
}

func (h *handlers) delete(c *fiber.Ctx) error {
	e, err := h.svc.Delete(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(newEndpointResponse(e))
}

type rotatedResponse struct {
	ID  string `json:"id"`
	URL string `json:"url,omitempty"` // absent in idempotent replays
}

func (h *handlers) rotate(c *fiber.Ctx) error {
	e, token, err := h.svc.RotateToken(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	idempotency.ReplayAs(c, rotatedResponse{ID: e.ID})
	return c.JSON(rotatedResponse{ID: e.ID, URL: h.svc.URL(token)})
}

type requestError struct {
	Code    string              `json:"code"`
	Message string              `json:"message"`
	Fields  []apperr.FieldError `json:"fields,omitempty"`
}

type requestResponse struct {
	ID            string            `json:"id"`
	EndpointID    string            `json:"endpoint_id"`
	ReceivedAt    time.Time         `json:"received_at"`
	SourceIP      string            `json:"source_ip"`
	ContentType   string            `json:"content_type"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	BodySize      int               `json:"body_size"`
	BodyTruncated bool              `json:"body_truncated"`
	Input         map[string]any    `json:"input"`
	Status        int               `json:"status"`
	Error         *requestError     `json:"error"`
	ResourceID    *string           `json:"resource_id"`
	Replayed      bool              `json:"replayed"`
	Echo          bool              `json:"echo"`
	DurationMS    int64             `json:"duration_ms"`
}

func newRequestResponse(r Request) requestResponse {
	out := requestResponse{ID: r.ID, EndpointID: r.EndpointID, ReceivedAt: r.ReceivedAt, SourceIP: r.SourceIP,
		ContentType: r.ContentType, Headers: r.Headers, Body: r.Body, BodySize: r.BodySize,
		BodyTruncated: r.BodyTruncated, Input: r.Input, Status: r.Status, ResourceID: optional(r.ResourceID),
		Replayed: r.Replayed, Echo: r.Echo, DurationMS: r.DurationMS}
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	if r.ErrorCode != "" {
		out.Error = &requestError{Code: r.ErrorCode, Message: r.ErrorMessage, Fields: r.ErrorFields}
	}
	return out
}

func (h *handlers) requests(c *fiber.Ctx) error {
	id := httpapi.Param(c, "id")
	return httpapi.List(c, func(after string, limit int) ([]Request, string, error) {
		return h.svc.Requests(c.UserContext(), httpapi.Principal(c), id, after, limit)
	}, newRequestResponse)
}

// submission copies what Receive needs out of Fiber's reused buffers. The
// body is the raw one (BodyRaw, never Body, which would inflate gzip past
// every limit); Receive refuses compressed bodies itself, so that refusal
// is logged against the endpoint like any other.
func submission(c *fiber.Ctx) Submission {
	hdr := http.Header{}
	c.Request().Header.VisitAll(func(k, v []byte) { hdr.Add(string(k), string(v)) })
	query := map[string]string{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		if _, seen := query[string(k)]; !seen {
			query[string(k)] = string(v)
		}
	})
	chain, hop, hasChain := httpapi.Causality(c)
	return Submission{
		Chain: chain, Hop: hop, HasChain: hasChain,
		Token:           httpapi.Param(c, "token"),
		ContentType:     httpapi.Header(c, fiber.HeaderContentType),
		ContentEncoding: httpapi.Header(c, fiber.HeaderContentEncoding),
		Header:          hdr,
		Query:           query,
		Body:            bytes.Clone(c.BodyRaw()),
		SourceIP:        strings.Clone(c.IP()),
	}
}

func (h *handlers) receive(c *fiber.Ctx) error {
	rep, err := h.svc.Receive(c.UserContext(), submission(c))
	if err != nil {
		return err
	}
	if rep.Replayed {
		c.Set("Idempotent-Replayed", "true")
	}
	if rep.Location != "" {
		return c.Redirect(rep.Location, rep.Status)
	}
	ct := rep.ContentType
	if ct == "" {
		ct = fiber.MIMEApplicationJSON
	}
	c.Set(fiber.HeaderContentType, ct)
	return c.Status(rep.Status).Send(rep.Body)
}
