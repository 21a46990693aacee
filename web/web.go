// Package web is the dashboard: server-rendered pages (html/template,
// embedded) over the same service methods the JSON API calls. It owns the
// session credential: a signed-in browser holds a session cookie, and every
// request rebuilds its principal from the user as read now.
//
// Front door:
//
//	New(rdb, keys, deps, opts) *Dashboard
//	(*Dashboard).Register(app)   every dashboard route, with its own renderer,
//	                             headers, session and CSRF middleware
//
// Files by job: web.go (wiring and routes), auth.go (sessions, sign-in),
// render.go (templates, headers, the HTML error renderer), store.go (the
// only Redis commands: session storage and the sign-in throttle), and one
// file per area of pages (webhooks.go, deliveries.go, keys.go, …).
package web

import (
	"embed"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"
	"github.com/gofiber/fiber/v2/middleware/session"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/inbound"
	"github.com/hookline/hookline/inbound/endpoints"
	"github.com/hookline/hookline/outbound"
)

//go:embed templates static
var files embed.FS

// Deps are the services the pages call: the same ones the JSON API calls.
type Deps struct {
	Accounts  *accounts.Service
	Outbound  *outbound.Service
	Inbound   *inbound.Service
	Endpoints *endpoints.Service
	Catalog   *catalog.Service
}

// Options tune the dashboard; zero values mean the defaults.
type Options struct {
	// Secure marks cookies Secure; set it when the base URL is https.
	Secure bool
	// SessionTTL is how long an idle session lasts; each request extends
	// it, and the CSRF token lives as long. Zero means 12 hours.
	SessionTTL time.Duration
	// LoginLimit is how many failed sign-ins one email may have per
	// LoginWindow before sign-in is refused for the rest of the window
	// (an address gets 5 times as many). Zero means 5.
	LoginLimit int
	// LoginWindow is the throttle window. Zero means 15 minutes.
	LoginWindow time.Duration
	Log         *slog.Logger
}

// Dashboard serves the web pages.
type Dashboard struct {
	deps     Deps
	opts     Options
	st       *webStore
	sessions *session.Store
	csrf     fiber.Handler
	tpl      *templates
}

// New builds the dashboard. It does not contact Redis.
func New(rdb redis.UniversalClient, keys store.Keys, deps Deps, opts Options) *Dashboard {
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.LoginLimit == 0 {
		opts.LoginLimit = 5
	}
	if opts.LoginWindow == 0 {
		opts.LoginWindow = 15 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	d := &Dashboard{deps: deps, opts: opts, st: &webStore{rdb: rdb, keys: keys}, tpl: loadTemplates()}
	// Fiber's defaults are neither HttpOnly nor Secure: both are set here.
	d.sessions = session.New(session.Config{
		Storage:        d.st,
		Expiration:     opts.SessionTTL,
		KeyLookup:      "cookie:hookline_session",
		CookieSecure:   opts.Secure,
		CookieHTTPOnly: true,
		CookieSameSite: "Lax",
		CookiePath:     "/",
	})
	d.csrf = csrf.New(csrf.Config{
		Session:        d.sessions,
		Extractor:      csrfFromHeaderOrForm,
		CookieName:     "hookline_csrf",
		CookieSecure:   opts.Secure,
		CookieHTTPOnly: true,
		CookieSameSite: "Lax",
		CookiePath:     "/",
		// The token lives as long as the session, not Fiber's default hour.
		Expiration:   opts.SessionTTL,
		ContextKey:   csrfLocal,
		ErrorHandler: csrfRefused,
	})
	return d
}

// Register adds every dashboard route to app. Each route carries its own
// middleware (renderer, headers, CSRF, sign-in), so nothing here touches
// /v1 or /in/.
func (d *Dashboard) Register(app fiber.Router) {
	pub := []fiber.Handler{httpapi.RenderWith(d.renderError), securityHeaders, d.csrf}
	in := append(append([]fiber.Handler{}, pub...), d.signedIn)
	route := func(method, path string, mw []fiber.Handler, h fiber.Handler) {
		app.Add(method, path, append(append([]fiber.Handler{}, mw...), h)...)
	}
	get := func(path string, h fiber.Handler) { route(fiber.MethodGet, path, in, h) }
	post := func(path string, h fiber.Handler) { route(fiber.MethodPost, path, in, h) }

	app.Get("/static/:file", securityHeaders, d.static)
	route(fiber.MethodGet, "/login", pub, d.loginPage)
	route(fiber.MethodPost, "/login", pub, d.login)
	post("/logout", d.logout)
	get("/", func(c *fiber.Ctx) error { return c.Redirect("/webhooks", fiber.StatusSeeOther) })

	get("/webhooks", d.webhooks)
	get("/webhooks/new", d.newWebhook)
	post("/webhooks", d.createWebhook)
	get("/webhooks/:id", d.webhook)
	get("/webhooks/:id/row", d.webhookRow)
	get("/webhooks/:id/edit", d.editWebhook)
	post("/webhooks/:id", d.updateWebhook)
	post("/webhooks/:id/active", d.toggleWebhook)
	post("/webhooks/:id/test", d.testWebhook)
	post("/webhooks/:id/rotate-secret", d.rotateSecret)
	post("/webhooks/:id/delete", d.deleteWebhook)
	get("/deliveries/:id", d.delivery)
	post("/deliveries/:id/redeliver", d.redeliver)
	post("/webhooks/:id/retry-failed", d.retryFailed)
	get("/events/:id", d.event)
	get("/event-types", d.eventTypes)
	post("/event-types", d.createEventType)
	get("/search", d.search)
	get("/system", d.system)
	get("/inbound", d.inbound)
	post("/inbound", d.createEndpoint)
	get("/inbound/:id", d.endpoint)
	post("/inbound/:id/paused", d.pauseEndpoint)
	post("/inbound/:id/rotate-token", d.rotateToken)
	post("/inbound/:id/delete", d.deleteEndpoint)

	get("/keys", d.keys)
	post("/keys", d.createKey)
	post("/keys/:id/revoke", d.revokeKey)
	get("/incidents", d.incidents)
	post("/incidents/:id/resolve", d.resolveIncident)
	get("/users", d.users)
	post("/users", d.createUser)
	post("/users/:id", d.updateUser)
	get("/account", d.account)
	post("/account/password", d.changePassword)
	post("/account/sessions/end-others", d.endOtherSessions)
}
