package web

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/outbound"
)

// logPage is how many deliveries one page of Log History shows.
const logPage = 20

type detailView struct {
	W        outbound.Webhook
	Log      []outbound.DeliveryDetail
	Status   string
	Type     string
	Cursor   string
	Next     string
	Live     bool // the first page refreshes itself
	Self     string
	LiveURL  string
	PauseURL string
	Secret   string // a new secret after rotation, shown once
	CSRF     string
	// RetrySince is the "Retry failed" form's default start: a day ago.
	RetrySince string
}

// pretty indents a JSON payload for reading.
func pretty(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// redeliverBlock says why a delivery cannot be redelivered now ("" if it can).
func redeliverBlock(d outbound.Delivery) string {
	if d.Status == outbound.StatusPending {
		return "pending: its next attempt is already scheduled"
	}
	return ""
}

// attemptError is an attempt's error for its heading, "" when it only
// repeats the HTTP status the heading already shows ("HTTP 500").
func attemptError(a outbound.Attempt) string {
	if a.StatusCode != 0 && strings.TrimSpace(a.Error) == "HTTP "+strconv.Itoa(a.StatusCode) {
		return ""
	}
	return a.Error
}

func (d *Dashboard) webhook(c *fiber.Ctx) error {
	return d.showWebhook(c, "")
}

func (d *Dashboard) showWebhook(c *fiber.Ctx, secret string) error {
	p, ctx := httpapi.Principal(c), c.UserContext()
	id := httpapi.Param(c, "id")
	w, err := d.deps.Outbound.Webhook(ctx, p, id)
	if err != nil {
		return err
	}
	v := detailView{W: w.Shown(), Status: httpapi.Query(c, "status"), Type: httpapi.Query(c, "event_type"),
		Cursor: httpapi.Query(c, "cursor"), Secret: secret, CSRF: csrfToken(c),
		RetrySince: time.Now().UTC().Add(-24 * time.Hour).Format(retryTimeLayout)}
	_, after, err := httpapi.ListParams(c)
	if err != nil {
		return err
	}
	ds, next, err := d.deps.Outbound.Deliveries(ctx, p, id, v.Status, v.Type, after, logPage)
	if err != nil {
		return err
	}
	for _, dl := range ds {
		dd, err := d.deps.Outbound.Delivery(ctx, p, dl.ID)
		if err != nil {
			return err
		}
		v.Log = append(v.Log, dd)
	}
	v.Next = cursor(next)
	v.Live = v.Cursor == "" && httpapi.Query(c, "live") != "0"
	q := url.Values{}
	if v.Status != "" {
		q.Set("status", v.Status)
	}
	if v.Type != "" {
		q.Set("event_type", v.Type)
	}
	base := "/webhooks/" + id
	v.LiveURL = base + "?" + q.Encode()
	q.Set("live", "0")
	v.PauseURL = base + "?" + q.Encode()
	v.Self = v.LiveURL
	if !v.Live {
		v.Self = v.PauseURL
	}
	if c.Get("HX-Request") == "true" && c.Get("HX-Target") == "log" {
		return d.partial(c, "webhook", "log", v)
	}
	return d.render(c, "webhook", w.Name, v)
}

func (d *Dashboard) testWebhook(c *fiber.Ctx) error {
	id := httpapi.Param(c, "id")
	if _, err := d.deps.Outbound.SendTest(c.UserContext(), httpapi.Principal(c), id); err != nil {
		return err
	}
	return c.Redirect("/webhooks/"+id, fiber.StatusSeeOther)
}

// rotateSecret shows the webhook page with the new secret, once.
func (d *Dashboard) rotateSecret(c *fiber.Ctx) error {
	w, err := d.deps.Outbound.RotateSecret(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return d.showWebhook(c, w.Secret)
}

func (d *Dashboard) deleteWebhook(c *fiber.Ctx) error {
	if _, err := d.deps.Outbound.DeleteWebhook(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id")); err != nil {
		return err
	}
	return c.Redirect("/webhooks", fiber.StatusSeeOther)
}

func (d *Dashboard) delivery(c *fiber.Ctx) error {
	dd, err := d.deps.Outbound.Delivery(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return d.render(c, "delivery", "Delivery "+dd.ID, dd)
}

func (d *Dashboard) redeliver(c *fiber.Ctx) error {
	dl, err := d.deps.Outbound.Redeliver(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.Redirect(backTo(c, "/webhooks/"+dl.WebhookID), fiber.StatusSeeOther)
}

// retryTimeLayout is how a datetime-local input sends its value; the form
// labels it UTC.
const retryTimeLayout = "2006-01-02T15:04"

type retryView struct {
	W      outbound.Webhook
	Since  string
	Type   string
	Result outbound.BulkResult
	Done   bool
}

// retryFailed is "Retry failed": without confirm=yes it only counts the
// failed deliveries matching the Log History filter since a time and asks
// to confirm; with it, it redelivers them (at most
// outbound.MaxBulkRedeliver).
func (d *Dashboard) retryFailed(c *fiber.Ctx) error {
	p, ctx := httpapi.Principal(c), c.UserContext()
	w, err := d.deps.Outbound.Webhook(ctx, p, httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	since := strings.TrimSpace(c.FormValue("since"))
	t, err := time.Parse(retryTimeLayout, since)
	if err != nil {
		return apperr.InvalidField("since", "must be a date and time, such as 2026-01-02T15:04")
	}
	in := outbound.BulkRedelivery{Since: t, Status: outbound.StatusFailed, EventType: strings.TrimSpace(c.FormValue("event_type")),
		DryRun: c.FormValue("confirm") != "yes"}
	r, err := d.deps.Outbound.RedeliverMatching(ctx, p, w.ID, in)
	if err != nil {
		return err
	}
	return d.render(c, "retry", "Retry failed deliveries", retryView{W: w.Shown(), Since: since, Type: in.EventType, Result: r, Done: !r.DryRun})
}
