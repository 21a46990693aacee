package web

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"
	"github.com/gofiber/fiber/v2/middleware/session"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/ids"
)

type localKey int

const (
	csrfLocal localKey = iota
	sessionLocal
	principalProbe // true once signedIn stored the principal
)

// Session fields.
const (
	sessAccount = "acct"
	sessUser    = "user"
	sessID      = "sid" // the credential id (ses_…); never the cookie value
)

// sessionKind prefixes session credential ids.
const sessionKind = "ses"

// csrfFromHeaderOrForm reads the token from X-Csrf-Token (htmx sends it on
// every request) or the form field "csrf" (plain forms, no JavaScript).
func csrfFromHeaderOrForm(c *fiber.Ctx) (string, error) {
	if t := c.Get(csrf.HeaderName); t != "" {
		return t, nil
	}
	if t := c.FormValue("csrf"); t != "" {
		return t, nil
	}
	return "", errors.New("missing CSRF token")
}

func csrfRefused(_ *fiber.Ctx, _ error) error {
	return apperr.New(apperr.CodeForbidden,
		"This form expired or did not come from this site. Reload the page and try again.")
}

func csrfToken(c *fiber.Ctx) string {
	s, _ := c.Locals(csrfLocal).(string)
	return s
}

// signedIn requires a session and rebuilds its principal from the user as
// read now: a removed permission, a deactivated user or a closed account
// bites on this very request. Signed-out requests go to /login?next=….
func (d *Dashboard) signedIn(c *fiber.Ctx) error {
	sess, err := d.sessions.Get(c)
	if err != nil {
		return err
	}
	acct, _ := sess.Get(sessAccount).(string)
	user, _ := sess.Get(sessUser).(string)
	sid, _ := sess.Get(sessID).(string)
	if acct == "" || user == "" || sid == "" {
		return d.toLogin(c)
	}
	p, err := d.deps.Accounts.Principal(c.UserContext(), acct, user,
		auth.Credential{Kind: auth.KindSession, ID: sid, Name: "dashboard"}, nil)
	if apperr.IsCode(err, apperr.CodeUnauthorized) {
		d.endSession(c, sess, acct, user)
		return d.toLogin(c)
	}
	if err != nil {
		return err
	}
	httpapi.SetPrincipal(c, p)
	c.Locals(sessionLocal, sess)
	c.Locals(principalProbe, true)
	return c.Next()
}

func (d *Dashboard) toLogin(c *fiber.Ctx) error {
	next := c.OriginalURL()
	if c.Method() != fiber.MethodGet {
		next = "/webhooks"
	}
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", "/login")
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	return c.Redirect("/login?next="+url.QueryEscape(next), fiber.StatusSeeOther)
}

// safeNext keeps a post-sign-in destination on this site.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
		return "/webhooks"
	}
	return s
}

type loginView struct {
	Email, Next, Error string
}

func (d *Dashboard) loginPage(c *fiber.Ctx) error {
	return d.render(c, "login", "Sign in", loginView{Next: safeNext(httpapi.Query(c, "next"))})
}

// login checks the throttle, then the password; every failure reads the
// same, so accounts cannot be probed.
func (d *Dashboard) login(c *fiber.Ctx) error {
	ctx := c.UserContext()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	v := loginView{Email: email, Next: safeNext(c.FormValue("next"))}
	subjects := []struct {
		key   string
		limit int
	}{{"email:" + email, d.opts.LoginLimit}, {"ip:" + c.IP(), 5 * d.opts.LoginLimit}}
	for _, s := range subjects {
		n, ttl, err := d.st.failures(ctx, s.key)
		if err != nil {
			return err
		}
		if n >= s.limit {
			mins := int(ttl.Minutes()) + 1
			v.Error = fmt.Sprintf("Too many sign-in attempts. Try again in %d minute(s).", mins)
			c.Set(fiber.HeaderRetryAfter, fmt.Sprint(int(ttl.Seconds())+1))
			return d.renderStatus(c, fiber.StatusTooManyRequests, "login", "Sign in", v)
		}
	}
	u, err := d.deps.Accounts.CheckPassword(ctx, email, c.FormValue("password"))
	var p auth.Principal
	sid := ids.New(sessionKind, time.Now())
	if err == nil {
		p, err = d.deps.Accounts.Principal(ctx, u.AccountID, u.ID, auth.Credential{Kind: auth.KindSession, ID: sid}, nil)
	}
	if apperr.IsCode(err, apperr.CodeUnauthorized) {
		for _, s := range subjects {
			if err := d.st.fail(ctx, s.key, d.opts.LoginWindow); err != nil {
				return err
			}
		}
		v.Error = "Wrong email or password."
		return d.renderStatus(c, fiber.StatusUnauthorized, "login", "Sign in", v)
	}
	if err != nil {
		return err
	}
	sess, err := d.sessions.Get(c)
	if err != nil {
		return err
	}
	// A new session id at sign-in, so a planted cookie cannot be ridden.
	if err := sess.Regenerate(); err != nil {
		return err
	}
	sess.Set(sessAccount, p.AccountID)
	sess.Set(sessUser, p.UserID)
	sess.Set(sessID, sid)
	id := sess.ID() // before Save, which releases the session and clears its id
	if err := sess.Save(); err != nil {
		return err
	}
	if err := d.st.remember(ctx, p.AccountID, p.UserID, id, sid); err != nil {
		return err
	}
	return c.Redirect(v.Next, fiber.StatusSeeOther)
}

func (d *Dashboard) logout(c *fiber.Ctx) error {
	p := httpapi.Principal(c)
	sess, _ := c.Locals(sessionLocal).(*session.Session)
	d.endSession(c, sess, p.AccountID, p.UserID)
	d.deps.Accounts.Revoked(c.UserContext(), p.AccountID, p.Credential)
	return c.Redirect("/login", fiber.StatusSeeOther)
}

func (d *Dashboard) endSession(c *fiber.Ctx, sess *session.Session, acct, user string) {
	if sess == nil {
		return
	}
	id := sess.ID()
	sid, _ := sess.Get(sessID).(string)
	if err := sess.Destroy(); err != nil {
		d.opts.Log.Warn("web: end session", "err", err)
	}
	if err := d.st.forget(c.UserContext(), acct, user, id, sid); err != nil {
		d.opts.Log.Warn("web: unindex session", "err", err)
	}
	c.ClearCookie("hookline_csrf")
}

// SessionPrincipal returns the principal of the dashboard session the
// request carries, rebuilt from the user as read now, and false when there
// is none: no cookie, an ended session, a removed user, a closed account,
// or storage that did not answer. It neither creates, extends nor ends a
// session, so another surface (IFTTT's authorization page) can share the
// sign-in; that surface keeps its own CSRF protection.
func (d *Dashboard) SessionPrincipal(c *fiber.Ctx) (auth.Principal, bool) {
	sess, err := d.sessions.Get(c)
	if err != nil {
		return auth.Principal{}, false
	}
	acct, _ := sess.Get(sessAccount).(string)
	user, _ := sess.Get(sessUser).(string)
	sid, _ := sess.Get(sessID).(string)
	if acct == "" || user == "" || sid == "" {
		return auth.Principal{}, false
	}
	p, err := d.deps.Accounts.Principal(c.UserContext(), acct, user,
		auth.Credential{Kind: auth.KindSession, ID: sid, Name: "dashboard"}, nil)
	if err != nil {
		return auth.Principal{}, false
	}
	return p, true
}
