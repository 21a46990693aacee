package web

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/inbound"
	"github.com/hookline/hookline/inbound/endpoints"
)

// ---- inbound endpoints: the list and the create form

type endpointForm struct {
	Name, Action, Mapping, Verify, Header, Username, RateLimit string
}

type inboundView struct {
	Endpoints []endpoints.Endpoint
	Next      string
	Actions   []inbound.Action
	F         endpointForm
	Errors    map[string]string
}

func (d *Dashboard) showInbound(c *fiber.Ctx, status int, v inboundView) error {
	_, after, err := httpapi.ListParams(c)
	if err != nil {
		return err
	}
	es, next, err := d.deps.Endpoints.Endpoints(c.UserContext(), httpapi.Principal(c), after, httpapi.DefaultLimit)
	if err != nil {
		return err
	}
	v.Endpoints, v.Next, v.Actions = es, cursor(next), inbound.Actions
	if v.F.Verify == "" {
		v.F.Verify = endpoints.VerifyNone
	}
	return d.renderStatus(c, status, "inbound", "Inbound endpoints", v)
}

func (d *Dashboard) inbound(c *fiber.Ctx) error {
	return d.showInbound(c, fiber.StatusOK, inboundView{})
}

// shownOnce is an endpoint's URL (with its token) and verification secret
// right after they were made; neither is stored.
type shownOnce struct {
	URL, Secret string
}

// createEndpoint creates an endpoint and shows its page with the URL and
// the verification secret, once.
func (d *Dashboard) createEndpoint(c *fiber.Ctx) error {
	f := endpointForm{Name: c.FormValue("name"), Action: c.FormValue("action"), Mapping: strings.TrimSpace(c.FormValue("mapping")),
		Verify: c.FormValue("verification"), Header: strings.TrimSpace(c.FormValue("header")),
		Username: strings.TrimSpace(c.FormValue("username")), RateLimit: strings.TrimSpace(c.FormValue("rate_limit"))}
	in := endpoints.NewEndpoint{Name: f.Name, Action: f.Action}
	errs := map[string]string{}
	if f.Mapping != "" {
		if err := json.Unmarshal([]byte(f.Mapping), &in.Mapping); err != nil {
			errs["mapping"] = `must be a JSON object of input fields, such as {"email": "answers.email"}`
		}
	}
	if f.RateLimit != "" {
		n, err := strconv.Atoi(f.RateLimit)
		if err != nil {
			errs["rate_limit"] = "must be a whole number of posts per minute"
		}
		in.RateLimit = n
	}
	if f.Verify != "" && f.Verify != endpoints.VerifyNone {
		in.Verification = &endpoints.VerificationInput{Type: f.Verify, Header: f.Header, Username: f.Username}
	}
	if len(errs) > 0 {
		return d.showInbound(c, fiber.StatusUnprocessableEntity, inboundView{F: f, Errors: errs})
	}
	e, sec, err := d.deps.Endpoints.Create(c.UserContext(), httpapi.Principal(c), in)
	if err != nil {
		errs, err := formErrors(err)
		if err != nil {
			return err
		}
		return d.showInbound(c, fiber.StatusUnprocessableEntity, inboundView{F: f, Errors: errs})
	}
	return d.showEndpoint(c, fiber.StatusCreated, e.ID, shownOnce{URL: d.deps.Endpoints.URL(sec.Token), Secret: sec.Verification})
}

// ---- one endpoint

type endpointView struct {
	E        endpoints.Endpoint
	Verify   endpoints.VerificationView
	Mapping  string
	Requests []endpoints.Request
	Next     string
	Once     shownOnce
}

func (d *Dashboard) endpoint(c *fiber.Ctx) error {
	return d.showEndpoint(c, fiber.StatusOK, httpapi.Param(c, "id"), shownOnce{})
}

func (d *Dashboard) showEndpoint(c *fiber.Ctx, status int, id string, once shownOnce) error {
	p, ctx := httpapi.Principal(c), c.UserContext()
	e, err := d.deps.Endpoints.Endpoint(ctx, p, id)
	if err != nil {
		return err
	}
	_, after, err := httpapi.ListParams(c)
	if err != nil {
		return err
	}
	rs, next, err := d.deps.Endpoints.Requests(ctx, p, id, after, logPage)
	if err != nil {
		return err
	}
	m, _ := json.MarshalIndent(e.Mapping, "", "  ")
	v := endpointView{E: e, Verify: e.Verification.View(), Mapping: string(m), Requests: rs, Next: cursor(next), Once: once}
	return d.renderStatus(c, status, "endpoint", e.Name, v)
}

func (d *Dashboard) pauseEndpoint(c *fiber.Ctx) error {
	id := httpapi.Param(c, "id")
	paused := c.FormValue("paused") == "true"
	if _, _, err := d.deps.Endpoints.Update(c.UserContext(), httpapi.Principal(c), id, endpoints.Patch{Paused: &paused}); err != nil {
		return err
	}
	return c.Redirect("/inbound/"+id, fiber.StatusSeeOther)
}

// rotateToken gives the endpoint a new URL, shown once; the old one stops.
func (d *Dashboard) rotateToken(c *fiber.Ctx) error {
	id := httpapi.Param(c, "id")
	_, token, err := d.deps.Endpoints.RotateToken(c.UserContext(), httpapi.Principal(c), id)
	if err != nil {
		return err
	}
	return d.showEndpoint(c, fiber.StatusOK, id, shownOnce{URL: d.deps.Endpoints.URL(token)})
}

func (d *Dashboard) deleteEndpoint(c *fiber.Ctx) error {
	if _, err := d.deps.Endpoints.Delete(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id")); err != nil {
		return err
	}
	return c.Redirect("/inbound", fiber.StatusSeeOther)
}
