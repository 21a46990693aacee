package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"path"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/outbound"
)

// fieldErr is an inline form error: the field and its message.
type fieldErr struct{ F, M string }

// detailCtx is what the "detail" template gets: a delivery and the CSRF token.
type detailCtx struct {
	outbound.DeliveryDetail
	CSRF string
}

// templates holds one template set per page, each with the layout and the
// shared partials.
type templates struct{ pages map[string]*template.Template }

var funcs = template.FuncMap{
	"ago":  ago,
	"abs":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join": strings.Join,
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
	"str":        func(b []byte) string { return string(b) },
	"pretty":     pretty,
	"blocked":    redeliverBlock,
	"attemptErr": attemptError,
	"list":       func(xs ...string) []string { return xs },
	"dctx": func(csrf string, dd outbound.DeliveryDetail) detailCtx {
		return detailCtx{DeliveryDetail: dd, CSRF: csrf}
	},
	"dict":   func(f, m string) fieldErr { return fieldErr{F: f, M: m} },
	"rowctx": func(csrf string, r row) rowCtx { return rowCtx{CSRF: csrf, R: r} },
}

func loadTemplates() *templates {
	base := template.Must(template.New("base").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials.html"))
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	t := &templates{pages: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t.pages[name] = template.Must(template.Must(base.Clone()).ParseFS(files, n))
	}
	return t
}

// ago is a relative time for people ("3 min ago", "in 5 min").
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	if d < 0 {
		return "in " + span(-d)
	}
	return span(d) + " ago"
}

func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// page is what every template gets: the caller (nil when signed out), the
// CSRF token for forms, the current path for the navigation, and Data.
type page struct {
	Title string
	P     *auth.Principal
	CSRF  string
	Path  string
	Data  any
}

// Can reports whether the caller holds a permission; the navigation only
// hides what the services refuse anyway.
func (p page) Can(x string) bool { return p.P != nil && p.P.Has(x) }

// CanWebhooks reports whether the caller may use webhooks at all.
func (p page) CanWebhooks() bool { return p.Can(perm.SubscribeWebhook) || p.Can(perm.ManageWebhook) }

func (d *Dashboard) render(c *fiber.Ctx, name, title string, data any) error {
	return d.renderStatus(c, fiber.StatusOK, name, title, data)
}

func (d *Dashboard) renderStatus(c *fiber.Ctx, status int, name, title string, data any) error {
	return d.exec(c, status, name, "layout", title, data)
}

// partial renders one named template of a page's set without the layout,
// for htmx swaps.
func (d *Dashboard) partial(c *fiber.Ctx, pageName, block string, data any) error {
	return d.exec(c, fiber.StatusOK, pageName, block, "", data)
}

func (d *Dashboard) exec(c *fiber.Ctx, status int, name, block, title string, data any) error {
	t, ok := d.tpl.pages[name]
	if !ok {
		return fmt.Errorf("web: no template %q", name)
	}
	pg := page{Title: title, CSRF: csrfToken(c), Path: c.Path(), Data: data}
	if p, ok := c.Locals(principalProbe).(bool); ok && p {
		pp := httpapi.Principal(c)
		pg.P = &pp
	}
	var v any = pg
	if block != "layout" {
		v = data // a partial gets its data as it is
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, v); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// securityHeaders are on every dashboard answer: a CSP that allows only
// this origin and no inline script, no framing, and a referrer policy
// that still sends the same-origin Referer Fiber's CSRF check needs on
// HTTPS (helmet's no-referrer would make every POST fail there).
func securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set("Cross-Origin-Resource-Policy", "same-origin")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

func (d *Dashboard) static(c *fiber.Ctx) error {
	name := path.Base(httpapi.Param(c, "file"))
	b, err := fs.ReadFile(files, "static/"+name)
	if err != nil {
		return apperr.NotFound("file")
	}
	c.Set(fiber.HeaderContentType, mime.TypeByExtension(path.Ext(name)))
	return c.Send(b)
}

type errorView struct {
	Status     int
	Message    string
	Permission string
}

// renderError is the dashboard's httpapi.Renderer: an HTML page with the
// status from the one table. Validation errors of forms are rendered
// inline by the pages themselves; this is the fallback.
func (d *Dashboard) renderError(c *fiber.Ctx, status int, e *apperr.Error) error {
	msg := e.Message
	if status == fiber.StatusNotFound {
		msg = "Not found, or not yours to see."
	}
	if c.Get("HX-Request") == "true" {
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(status).SendString(msg)
	}
	return d.renderStatus(c, status, "error", fmt.Sprintf("Error %d", status),
		errorView{Status: status, Message: msg, Permission: e.Permission})
}
