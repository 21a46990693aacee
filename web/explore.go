package web

import (
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/outbound"
)

// ---- one event's deliveries

type eventView struct {
	ID         string
	Deliveries []outbound.Delivery
}

func (d *Dashboard) event(c *fiber.Ctx) error {
	id := httpapi.Param(c, "id")
	ds, err := d.deps.Outbound.EventDeliveries(c.UserContext(), httpapi.Principal(c), id)
	if err != nil {
		return err
	}
	return d.render(c, "event", "Event "+id, eventView{ID: id, Deliveries: ds})
}

// ---- the catalog of event types

type typesView struct {
	Types  []catalog.EventType
	Next   string
	Perms  []permOpt
	Errors map[string]string
	F      catalog.NewType
	Sample string
	Added  string
}

func (d *Dashboard) showTypes(c *fiber.Ctx, status int, v typesView) error {
	_, after, err := httpapi.ListParams(c)
	if err != nil {
		return err
	}
	ts, next, err := d.deps.Catalog.List(c.UserContext(), httpapi.Principal(c).AccountID, after, httpapi.MaxLimit)
	if err != nil {
		return err
	}
	v.Types, v.Next, v.Perms = ts, cursor(next), permOpts(c)
	return d.renderStatus(c, status, "event_types", "Event types", v)
}

func (d *Dashboard) eventTypes(c *fiber.Ctx) error {
	return d.showTypes(c, fiber.StatusOK, typesView{})
}

// createEventType adds one of the account's own types; the catalog checks
// the permission (manage:webhook) and the name.
func (d *Dashboard) createEventType(c *fiber.Ctx) error {
	in := catalog.NewType{Name: strings.TrimSpace(c.FormValue("name")), Description: c.FormValue("description"),
		Permission: c.FormValue("permission")}
	sample := strings.TrimSpace(c.FormValue("sample"))
	v := typesView{F: in, Sample: sample}
	if sample != "" {
		if !json.Valid([]byte(sample)) {
			v.Errors = map[string]string{"sample": "must be JSON, such as {\"order_id\": \"o1\"}"}
			return d.showTypes(c, fiber.StatusUnprocessableEntity, v)
		}
		in.Sample = json.RawMessage(sample)
	}
	t, err := d.deps.Catalog.Create(c.UserContext(), httpapi.Principal(c), in)
	if err != nil {
		errs, err := formErrors(err)
		if err != nil {
			return err
		}
		v.Errors = errs
		return d.showTypes(c, fiber.StatusUnprocessableEntity, v)
	}
	return d.showTypes(c, fiber.StatusCreated, typesView{Added: t.Name})
}

// ---- search: jump to an id

type searchView struct{ Q string }

// search goes to the page of any id the caller may see; the service that
// owns the id decides, so an id the caller may not see is "not found"
// exactly like an absent one.
func (d *Dashboard) search(c *fiber.Ctx) error {
	q := strings.TrimSpace(httpapi.Query(c, "q"))
	target, err := d.locate(c, q)
	if apperr.IsCode(err, apperr.CodeNotFound) || apperr.IsCode(err, apperr.CodeForbidden) {
		return d.renderStatus(c, fiber.StatusNotFound, "search", "Nothing found", searchView{Q: q})
	}
	if err != nil {
		return err
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

func (d *Dashboard) locate(c *fiber.Ctx, id string) (string, error) {
	p, ctx := httpapi.Principal(c), c.UserContext()
	switch {
	case ids.HasPrefix(id, ids.Delivery):
		_, err := d.deps.Outbound.Delivery(ctx, p, id)
		return "/deliveries/" + id, err
	case ids.HasPrefix(id, ids.Webhook):
		_, err := d.deps.Outbound.Webhook(ctx, p, id)
		return "/webhooks/" + id, err
	case ids.HasPrefix(id, ids.Event):
		_, err := d.deps.Outbound.EventDeliveries(ctx, p, id)
		return "/events/" + id, err
	case ids.HasPrefix(id, ids.Inbound):
		_, err := d.deps.Endpoints.Endpoint(ctx, p, id)
		return "/inbound/" + id, err
	case ids.HasPrefix(id, ids.Incident):
		return "/incidents#" + id, d.findListed(id, func(after string) ([]string, string, error) {
			is, next, err := d.deps.Inbound.Incidents(ctx, p, after, httpapi.MaxLimit)
			out := make([]string, len(is))
			for i, x := range is {
				out[i] = x.ID
			}
			return out, next, err
		})
	case ids.HasPrefix(id, ids.Key):
		return "/keys#" + id, d.findListed(id, func(after string) ([]string, string, error) {
			ks, next, err := d.deps.Accounts.ListKeys(ctx, p, after, httpapi.MaxLimit)
			out := make([]string, len(ks))
			for i, x := range ks {
				out[i] = x.ID
			}
			return out, next, err
		})
	}
	return "", apperr.NotFound("id")
}

// findListed looks for id in a list the caller may read (incidents and keys
// have no single read), a few pages deep.
func (d *Dashboard) findListed(id string, page func(after string) ([]string, string, error)) error {
	after := ""
	for i := 0; i < 5; i++ {
		got, next, err := page(after)
		if err != nil {
			return err
		}
		for _, x := range got {
			if x == id {
				return nil
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	return apperr.NotFound("id")
}

// ---- system: queues and workers

func (d *Dashboard) system(c *fiber.Ctx) error {
	s, err := d.deps.Outbound.System(c.UserContext(), httpapi.Principal(c))
	if err != nil {
		return err
	}
	return d.render(c, "system", "System", s)
}
