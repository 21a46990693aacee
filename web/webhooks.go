package web

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/outbound"
)

// row is one webhook in the list, with its latest delivery.
type row struct {
	W      outbound.Webhook
	Latest *outbound.Delivery
	Owner  bool // show the owner column (manage:webhook)
}

// Polling reports whether the row should refresh itself: its latest
// delivery has no outcome yet.
func (r row) Polling() bool { return r.Latest != nil && r.Latest.Status == outbound.StatusPending }

// rows are webhooks with their latest deliveries, read in one round trip.
func (d *Dashboard) rows(ctx context.Context, p auth.Principal, ws []outbound.Webhook) ([]row, error) {
	latest, err := d.deps.Outbound.LatestDeliveries(ctx, p, ws)
	if err != nil {
		return nil, err
	}
	out := make([]row, len(ws))
	for i, w := range ws {
		out[i] = row{W: w.Shown(), Owner: p.Has("manage:webhook")}
		if l, ok := latest[w.ID]; ok {
			out[i].Latest = &l
		}
	}
	return out, nil
}

func (d *Dashboard) row(ctx context.Context, p auth.Principal, w outbound.Webhook) (row, error) {
	rs, err := d.rows(ctx, p, []outbound.Webhook{w})
	if err != nil {
		return row{}, err
	}
	return rs[0], nil
}

type listView struct {
	Rows []row
	Next string
}

func (d *Dashboard) webhooks(c *fiber.Ctx) error {
	p, ctx := httpapi.Principal(c), c.UserContext()
	limit, after, err := httpapi.ListParams(c)
	if err != nil {
		return err
	}
	ws, next, err := d.deps.Outbound.Webhooks(ctx, p, after, limit)
	if err != nil {
		return err
	}
	rs, err := d.rows(ctx, p, ws)
	if err != nil {
		return err
	}
	return d.render(c, "webhooks", "Webhooks", listView{Rows: rs, Next: cursor(next)})
}

// webhookRow is one row, for htmx to refresh while a delivery is pending.
func (d *Dashboard) webhookRow(c *fiber.Ctx) error {
	p, ctx := httpapi.Principal(c), c.UserContext()
	w, err := d.deps.Outbound.Webhook(ctx, p, httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	r, err := d.row(ctx, p, w)
	if err != nil {
		return err
	}
	return d.partial(c, "webhooks", "row", d.pageFor(c, r))
}

// toggleWebhook turns a webhook on (which sends it a test event) or off.
// htmx swaps the row; without JavaScript the list is shown again.
func (d *Dashboard) toggleWebhook(c *fiber.Ctx) error {
	p, ctx := httpapi.Principal(c), c.UserContext()
	on := c.FormValue("active") == "true"
	w, err := d.deps.Outbound.UpdateWebhook(ctx, p, httpapi.Param(c, "id"), outbound.WebhookPatch{Active: &on})
	if err != nil {
		return err
	}
	if c.Get("HX-Request") != "true" {
		return c.Redirect(backTo(c, "/webhooks"), fiber.StatusSeeOther)
	}
	r, err := d.row(ctx, p, w)
	if err != nil {
		return err
	}
	return d.partial(c, "webhooks", "row", d.pageFor(c, r))
}

// rowCtx is what the "row" template gets: the row and the CSRF token.
type rowCtx struct {
	CSRF string
	R    row
}

// pageFor is the data of a row rendered on its own.
func (d *Dashboard) pageFor(c *fiber.Ctx, r row) rowCtx { return rowCtx{CSRF: csrfToken(c), R: r} }

// backTo is the form's "back" field when it is a path on this site.
func backTo(c *fiber.Ctx, def string) string {
	if b := c.FormValue("back"); strings.HasPrefix(b, "/") && !strings.HasPrefix(b, "//") && !strings.HasPrefix(b, "/\\") {
		return b
	}
	return def
}

func cursor(next string) string {
	if next == "" {
		return ""
	}
	p := httpapi.NewPage([]int{}, next)
	return *p.NextCursor
}

// ---- the form

type webhookForm struct {
	Name, URL, Method, AuthType, AuthUsername string
	RetrySchedule, Timeout, RateLimit         string
	Events                                    []string
}

type eventOpt struct {
	Name, Description, Permission string
	Readable                      bool
}

type eventGroup struct {
	Resource string
	Types    []eventOpt
}

type formView struct {
	ID     string // empty for a new webhook
	F      webhookForm
	Errors map[string]string
	Groups []eventGroup
}

// Err returns the inline error of a field ("" when none).
func (v formView) Err(field string) string { return v.Errors[field] }

func (d *Dashboard) eventGroups(ctx context.Context, p auth.Principal) ([]eventGroup, error) {
	types, _, err := d.deps.Catalog.List(ctx, p.AccountID, "", 200)
	if err != nil {
		return nil, err
	}
	by := map[string][]eventOpt{}
	for _, t := range types {
		by[t.Resource] = append(by[t.Resource], eventOpt{Name: t.Name, Description: t.Description,
			Permission: t.Permission, Readable: p.Has(t.Permission)})
	}
	var gs []eventGroup
	for r, ts := range by {
		gs = append(gs, eventGroup{Resource: r, Types: ts})
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].Resource < gs[j].Resource })
	return gs, nil
}

func readForm(c *fiber.Ctx) webhookForm {
	f := webhookForm{
		Name: c.FormValue("name"), URL: c.FormValue("url"), Method: c.FormValue("method"),
		AuthType: c.FormValue("auth_type"), AuthUsername: c.FormValue("auth_username"),
		RetrySchedule: c.FormValue("retry_schedule"), Timeout: c.FormValue("timeout"), RateLimit: c.FormValue("rate_limit"),
	}
	if args := c.Request().PostArgs(); args != nil {
		for _, v := range args.PeekMulti("events") {
			f.Events = append(f.Events, string(v))
		}
	}
	if f.AuthType == "" {
		f.AuthType = "none"
	}
	return f
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func (f webhookForm) auth(c *fiber.Ctx) *outbound.AuthInput {
	return &outbound.AuthInput{Type: f.AuthType, Username: f.AuthUsername,
		Password: c.FormValue("auth_password"), Token: c.FormValue("auth_token")}
}

func (f webhookForm) rate() (float64, bool) {
	if strings.TrimSpace(f.RateLimit) == "" {
		return 0, true
	}
	r, err := strconv.ParseFloat(strings.TrimSpace(f.RateLimit), 64)
	return r, err == nil
}

// formErrors turns a validation error into inline messages by form field;
// other errors are returned as they are.
func formErrors(err error) (map[string]string, error) {
	ae := apperr.As(err)
	if ae == nil || ae.Code != apperr.CodeValidation && !(ae.Code == apperr.CodeForbidden && ae.Permission != "") {
		return nil, err
	}
	m := map[string]string{}
	if ae.Code == apperr.CodeForbidden {
		m["events"] = ae.Message
		return m, nil
	}
	for _, f := range ae.Fields {
		name := f.Field
		if i := strings.IndexAny(name, ".["); i > 0 {
			name = name[:i]
		}
		if _, dup := m[name]; !dup {
			m[name] = f.Message
		}
	}
	if len(m) == 0 {
		m["form"] = ae.Message
	}
	return m, nil
}

func (d *Dashboard) showForm(c *fiber.Ctx, status int, v formView) error {
	groups, err := d.eventGroups(c.UserContext(), httpapi.Principal(c))
	if err != nil {
		return err
	}
	v.Groups = groups
	title := "New webhook"
	if v.ID != "" {
		title = "Edit webhook"
	}
	return d.renderStatus(c, status, "webhook_form", title, v)
}

func (d *Dashboard) newWebhook(c *fiber.Ctx) error {
	return d.showForm(c, fiber.StatusOK, formView{F: webhookForm{Method: "POST", AuthType: "none"}})
}

type createdView struct {
	W      outbound.Webhook
	Secret string
}

// createWebhook creates the webhook inactive and shows its signing secret,
// once; invalid input shows the form again with inline errors.
func (d *Dashboard) createWebhook(c *fiber.Ctx) error {
	f := readForm(c)
	rate, ok := f.rate()
	if !ok {
		return d.showForm(c, fiber.StatusUnprocessableEntity, formView{F: f, Errors: map[string]string{"rate_limit": "must be a number"}})
	}
	in := outbound.NewWebhook{Name: f.Name, URL: f.URL, Method: f.Method, Events: f.Events, Auth: f.auth(c),
		RetrySchedule: splitList(f.RetrySchedule), Timeout: strings.TrimSpace(f.Timeout), RateLimit: rate}
	w, err := d.deps.Outbound.CreateWebhook(c.UserContext(), httpapi.Principal(c), in)
	if err != nil {
		errs, err := formErrors(err)
		if err != nil {
			return err
		}
		return d.showForm(c, fiber.StatusUnprocessableEntity, formView{F: f, Errors: errs})
	}
	return d.renderStatus(c, fiber.StatusCreated, "webhook_created", "Webhook created", createdView{W: w.Shown(), Secret: w.Secret})
}

func (d *Dashboard) editWebhook(c *fiber.Ctx) error {
	w, err := d.deps.Outbound.Webhook(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	f := webhookForm{Name: w.Name, URL: w.URL, Method: w.Method, AuthType: w.Auth.Type, AuthUsername: w.Auth.Username,
		Events: w.Events, Timeout: w.Timeout.String()}
	if f.AuthType == "" {
		f.AuthType = "none"
	}
	var sched []string
	for _, s := range w.RetrySchedule {
		sched = append(sched, s.String())
	}
	f.RetrySchedule = strings.Join(sched, ", ")
	if w.RateLimit > 0 {
		f.RateLimit = strconv.FormatFloat(w.RateLimit, 'f', -1, 64)
	}
	return d.showForm(c, fiber.StatusOK, formView{ID: w.ID, F: f})
}

// updateWebhook saves the edit form. The auth secret is kept unless a new
// one is typed (it is never shown back).
func (d *Dashboard) updateWebhook(c *fiber.Ctx) error {
	id := httpapi.Param(c, "id")
	f := readForm(c)
	rate, ok := f.rate()
	if !ok {
		return d.showForm(c, fiber.StatusUnprocessableEntity, formView{ID: id, F: f, Errors: map[string]string{"rate_limit": "must be a number"}})
	}
	sched, timeout := splitList(f.RetrySchedule), strings.TrimSpace(f.Timeout)
	patch := outbound.WebhookPatch{Name: &f.Name, URL: &f.URL, Method: &f.Method, Events: f.Events,
		RetrySchedule: &sched, Timeout: &timeout, RateLimit: &rate}
	if a := f.auth(c); a.Type == "none" || a.Password != "" || a.Token != "" {
		patch.Auth = a
	}
	if len(f.Events) == 0 {
		return d.showForm(c, fiber.StatusUnprocessableEntity, formView{ID: id, F: f, Errors: map[string]string{"events": "choose at least one event"}})
	}
	if _, err := d.deps.Outbound.UpdateWebhook(c.UserContext(), httpapi.Principal(c), id, patch); err != nil {
		errs, err := formErrors(err)
		if err != nil {
			return err
		}
		return d.showForm(c, fiber.StatusUnprocessableEntity, formView{ID: id, F: f, Errors: errs})
	}
	return c.Redirect("/webhooks/"+id, fiber.StatusSeeOther)
}
