package outbound

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/idempotency"
	"github.com/hookline/hookline/app/redact"
)

type handlers struct{ svc *Service }

type authResponse struct {
	Type     string `json:"type"`
	Username string `json:"username,omitempty"`
}

type webhookResponse struct {
	ID                  string            `json:"id"`
	Name                string            `json:"name"`
	URL                 string            `json:"url"`
	Method              string            `json:"method"`
	Events              []string          `json:"events"`
	Auth                authResponse      `json:"auth"`
	Headers             map[string]string `json:"headers"`
	RetrySchedule       []string          `json:"retry_schedule"`
	Timeout             string            `json:"timeout"`
	RateLimit           float64           `json:"rate_limit"`
	MaxInFlight         int               `json:"max_in_flight"`
	Active              bool              `json:"active"`
	DisabledReason      *string           `json:"disabled_reason"`
	DisabledAt          *time.Time        `json:"disabled_at"`
	ConsecutiveFailures int               `json:"consecutive_failures"`
	Source              string            `json:"source"`
	OwnerID             string            `json:"owner_id"`
	CreatedBy           *createdBy        `json:"created_by"`
	PrevSecretExpiresAt *time.Time        `json:"previous_secret_expires_at"`
	CreatedAt           time.Time         `json:"created_at"`
	UpdatedAt           time.Time         `json:"updated_at"`
}

// createdBy is the credential that created a webhook; null when none.
type createdBy struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

func newCreatedBy(cred string) *createdBy {
	c := auth.ParseCredential(cred)
	if c.ID == "" {
		return nil
	}
	return &createdBy{Kind: string(c.Kind), ID: c.ID}
}

// formatDuration writes 5m rather than 5m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// newWebhookResponse renders the shown view of a webhook (Webhook.Shown):
// no secret, no sensitive header value and no query value of its URL
// (redact.URL) leaves through it.
func newWebhookResponse(w Webhook, now time.Time) webhookResponse {
	w = w.Shown()
	sched := make([]string, len(w.RetrySchedule))
	for i, d := range w.RetrySchedule {
		sched[i] = formatDuration(d)
	}
	r := webhookResponse{
		ID: w.ID, Name: w.Name, URL: redact.URL(w.URL), Method: w.Method, Events: w.Events,
		Auth: authResponse{Type: w.Auth.Type, Username: w.Auth.Username}, Headers: w.Headers,
		RetrySchedule: sched, Timeout: formatDuration(w.Timeout), RateLimit: w.RateLimit, MaxInFlight: w.MaxInFlight, Active: w.Active,
		DisabledAt: httpapi.Time(w.DisabledAt), ConsecutiveFailures: w.ConsecutiveFailures,
		Source: w.Source, OwnerID: w.OwnerID, CreatedBy: newCreatedBy(w.Credential), CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
	if w.DisabledReason != "" {
		r.DisabledReason = &w.DisabledReason
	}
	if now.Before(w.PrevSecretUntil) { // zero unless a previous secret exists
		r.PrevSecretExpiresAt = httpapi.Time(w.PrevSecretUntil)
	}
	return r
}

type webhookCreated struct {
	webhookResponse
	Secret string `json:"secret"`
}

func (h *handlers) create(c *fiber.Ctx) error {
	var req NewWebhook
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	w, err := h.svc.CreateWebhook(c.UserContext(), httpapi.Principal(c), req)
	if err != nil {
		return err
	}
	resp := newWebhookResponse(w, h.svc.now())
	// The signing secret is shown once: a replay answers the webhook without it.
	idempotency.ReplayAs(c, resp)
	return c.Status(fiber.StatusCreated).JSON(webhookCreated{webhookResponse: resp, Secret: w.Secret})
}

// webhookListItem is a webhook in the list, with its newest delivery
// (null when it has none), read for the whole page in one round trip.
type webhookListItem struct {
	webhookResponse
	LatestDelivery *deliveryResponse `json:"latest_delivery"`
}

func (h *handlers) list(c *fiber.Ctx) error {
	p, now, ctx := httpapi.Principal(c), h.svc.now(), c.UserContext()
	var latest map[string]Delivery
	return httpapi.List(c, func(after string, limit int) ([]Webhook, string, error) {
		ws, next, err := h.svc.Webhooks(ctx, p, after, limit)
		if err == nil {
			latest, err = h.svc.LatestDeliveries(ctx, p, ws)
		}
		return ws, next, err
	}, func(w Webhook) webhookListItem {
		item := webhookListItem{webhookResponse: newWebhookResponse(w, now)}
		if d, ok := latest[w.ID]; ok {
			r := newDeliveryResponse(d)
			item.LatestDelivery = &r
		}
		return item
	})
}

func (h *handlers) get(c *fiber.Ctx) error {
	w, err := h.svc.Webhook(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(newWebhookResponse(w, h.svc.now()))
}

func (h *handlers) update(c *fiber.Ctx) error {
	var req WebhookPatch
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	w, err := h.svc.UpdateWebhook(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"), req)
	if err != nil {
		return err
	}
	return c.JSON(newWebhookResponse(w, h.svc.now()))
}

func (h *handlers) delete(c *fiber.Ctx) error {
	w, err := h.svc.DeleteWebhook(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(newWebhookResponse(w, h.svc.now()))
}

type rotatedResponse struct {
	ID     string `json:"id"`
	Secret string `json:"secret,omitempty"` // absent in idempotent replays

	PrevSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
}

func (h *handlers) rotate(c *fiber.Ctx) error {
	w, err := h.svc.RotateSecret(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	idempotency.ReplayAs(c, rotatedResponse{ID: w.ID, PrevSecretExpiresAt: httpapi.Time(w.PrevSecretUntil)})
	return c.JSON(rotatedResponse{ID: w.ID, Secret: w.Secret, PrevSecretExpiresAt: httpapi.Time(w.PrevSecretUntil)})
}

type deliveryResponse struct {
	ID             string     `json:"id"`
	WebhookID      string     `json:"webhook_id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	URL            string     `json:"url"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
}

// newDeliveryResponse renders a delivery; its URL (the one its latest
// attempt went to) with query values redacted.
func newDeliveryResponse(d Delivery) deliveryResponse {
	r := deliveryResponse{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, EventType: d.EventType, URL: redact.URL(d.URL),
		Status: d.Status, Attempts: d.Attempts, CreatedAt: d.CreatedAt, NextAttemptAt: httpapi.Time(d.NextAttemptAt)}
	if d.LastStatusCode != 0 {
		r.LastStatusCode = &d.LastStatusCode
	}
	if d.LastError != "" {
		r.LastError = &d.LastError
	}
	return r
}

type deliveryDetailResponse struct {
	deliveryResponse
	Payload      json.RawMessage `json:"payload"`
	AttemptsList []Attempt       `json:"attempt_log"`
}

func (h *handlers) test(c *fiber.Ctx) error {
	d, err := h.svc.SendTest(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(newDeliveryResponse(d))
}

func (h *handlers) deliveries(c *fiber.Ctx) error {
	p, id := httpapi.Principal(c), httpapi.Param(c, "id")
	status, eventType := httpapi.Query(c, "status"), httpapi.Query(c, "event_type")
	return httpapi.List(c, func(after string, limit int) ([]Delivery, string, error) {
		return h.svc.Deliveries(c.UserContext(), p, id, status, eventType, after, limit)
	}, newDeliveryResponse)
}

func (h *handlers) delivery(c *fiber.Ctx) error {
	dd, err := h.svc.Delivery(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	payload := json.RawMessage(dd.Payload)
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	atts := make([]Attempt, len(dd.Attempts))
	for i, a := range dd.Attempts {
		if a.URL != "" {
			a.URL = redact.URL(a.URL)
		}
		atts[i] = a
	}
	return c.JSON(deliveryDetailResponse{deliveryResponse: newDeliveryResponse(dd.Delivery), Payload: payload, AttemptsList: atts})
}

func (h *handlers) redeliver(c *fiber.Ctx) error {
	d, err := h.svc.Redeliver(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(newDeliveryResponse(d))
}

func (h *handlers) eventDeliveries(c *fiber.Ctx) error {
	ds, err := h.svc.EventDeliveries(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	out := make([]deliveryResponse, len(ds))
	for i, d := range ds {
		out[i] = newDeliveryResponse(d)
	}
	return c.JSON(httpapi.NewPage(out, "")) // every one at once: an event has at most one per webhook
}

type bulkRedeliveryResponse struct {
	Matched     int  `json:"matched"`
	Redelivered int  `json:"redelivered"`
	Skipped     int  `json:"skipped"`
	More        bool `json:"more"`
	DryRun      bool `json:"dry_run"`
}

func (h *handlers) redeliverMatching(c *fiber.Ctx) error {
	var req BulkRedelivery
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	r, err := h.svc.RedeliverMatching(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"), req)
	if err != nil {
		return err
	}
	status := fiber.StatusAccepted
	if r.DryRun {
		status = fiber.StatusOK
	}
	return c.Status(status).JSON(bulkRedeliveryResponse{Matched: r.Matched, Redelivered: r.Redelivered,
		Skipped: r.Skipped, More: r.More, DryRun: r.DryRun})
}
