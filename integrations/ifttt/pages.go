package ifttt

import (
	"bytes"
	"embed"
	"encoding/base64"
	"html/template"
	"net/url"
	"strings"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/httpapi"
)

//go:embed templates/page.html
var templateFS embed.FS

var pageTmpl = template.Must(template.ParseFS(templateFS, "templates/page.html"))

// csrfCookie carries the pending authorization's CSRF token; the forms
// carry it too, and both must match the stored hash (double submit), so
// another site cannot post the forms in a user's browser.
const csrfCookie = "hookline_ifttt_csrf"

type pageView struct {
	Mode, Message, ID, CSRF, Email, Account string
	Scope                                   []string
	// Other is the link that signs in with another account than the
	// shared sign-in's (empty after IFTTT's own form).
	Other string
}

// pages serve the authorization pages: plain HTML forms that work
// without JavaScript.
type pages struct{ svc *Service }

func renderPage(c *fiber.Ctx, status int, v pageView) error {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, v); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	// The forms post to this origin and redirect only to IFTTT.
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https://ifttt.com; frame-ancestors 'none'; base-uri 'none'")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	return c.Status(status).Send(buf.Bytes())
}

// renderPageError is the pages' error renderer: an HTML page, never a
// redirect to a client or URI that was not verified.
func renderPageError(c *fiber.Ctx, status int, e *apperr.Error) error {
	msg := e.Message
	if status >= 500 {
		msg = "Something went wrong on our side. Please try again."
	}
	return renderPage(c, status, pageView{Mode: "error", Message: msg})
}

func setCSRF(c *fiber.Ctx, token string) {
	c.Cookie(&fiber.Cookie{
		Name: csrfCookie, Value: token, Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Secure: c.Protocol() == "https", MaxAge: int(authzTTL.Seconds()),
	})
}

// formCSRF returns the form's CSRF token if the cookie carries the same.
func formCSRF(c *fiber.Ctx) string {
	form, cookie := c.FormValue("csrf_token"), c.Cookies(csrfCookie)
	if form == "" || !same(form, cookie) {
		return ""
	}
	return strings.Clone(form)
}

// authorize checks IFTTT's request, then shows the consent form to a user
// the shared sign-in (the dashboard's session) reports, else IFTTT's own
// sign-in form. prompt=login (OpenID Connect's name) asks for the form
// even then: the consent page links to it, to connect another account.
func (pg *pages) authorize(c *fiber.Ctx) error {
	r := AuthorizeRequest{
		ClientID: httpapi.Query(c, "client_id"), ResponseType: httpapi.Query(c, "response_type"),
		RedirectURI: httpapi.Query(c, "redirect_uri"), State: httpapi.Query(c, "state"), Scope: httpapi.Query(c, "scope"),
	}
	p, err := pg.svc.StartAuthorization(c.UserContext(), r)
	if err != nil {
		return err
	}
	if session := pg.svc.opts.Session; session != nil && c.Query("prompt") != "login" {
		if who, ok := session(c); ok {
			p, err = pg.svc.SignInAs(c.UserContext(), p.ID, p.CSRF, who)
			if err != nil {
				return err
			}
			setCSRF(c, p.CSRF)
			return renderPage(c, fiber.StatusOK, pageView{Mode: "consent", ID: p.ID, CSRF: p.CSRF, Email: p.Email,
				Account: p.Account, Scope: scopeLines(), Other: otherAccountLink(r)})
		}
	}
	setCSRF(c, p.CSRF)
	return renderPage(c, fiber.StatusOK, pageView{Mode: "signin", ID: p.ID, CSRF: p.CSRF})
}

// otherAccountLink is this authorization's page again with prompt=login,
// relative to /oauth/authorize so it stays on this site.
func otherAccountLink(r AuthorizeRequest) string {
	q := url.Values{"client_id": {r.ClientID}, "response_type": {r.ResponseType}, "redirect_uri": {r.RedirectURI}, "prompt": {"login"}}
	if r.State != "" {
		q.Set("state", r.State)
	}
	if r.Scope != "" {
		q.Set("scope", r.Scope)
	}
	return "authorize?" + q.Encode()
}

func (pg *pages) signIn(c *fiber.Ctx) error {
	id, csrf := strings.Clone(c.FormValue("authorization")), formCSRF(c)
	email := strings.Clone(c.FormValue("email"))
	p, err := pg.svc.SignIn(c.UserContext(), id, csrf, email, c.FormValue("password"), c.IP())
	if apperr.IsCode(err, apperr.CodeUnauthorized) {
		return renderPage(c, fiber.StatusUnauthorized, pageView{Mode: "signin", ID: id, CSRF: csrf, Email: email,
			Message: "Wrong email or password."})
	}
	if err != nil {
		return err
	}
	setCSRF(c, p.CSRF)
	return renderPage(c, fiber.StatusOK, pageView{Mode: "consent", ID: p.ID, CSRF: p.CSRF, Email: p.Email,
		Account: p.Account, Scope: scopeLines()})
}

func (pg *pages) consent(c *fiber.Ctx) error {
	to, err := pg.svc.Decide(c.UserContext(), strings.Clone(c.FormValue("authorization")), formCSRF(c),
		c.FormValue("decision") == "approve")
	if err != nil {
		return err
	}
	c.ClearCookie(csrfCookie)
	return c.Redirect(to, fiber.StatusFound)
}

// token is POST /oauth/token: authorization_code and refresh_token grants,
// client authentication by HTTP Basic or client_secret_post.
func (pg *pages) token(c *fiber.Ctx) error {
	id, secret, err := clientCredentials(c)
	if err != nil {
		return err
	}
	if err := pg.svc.CheckClient(id, secret); err != nil {
		return err
	}
	var t Tokens
	switch gt := c.FormValue("grant_type"); gt {
	case "authorization_code":
		t, err = pg.svc.Exchange(c.UserContext(), strings.Clone(c.FormValue("code")), strings.Clone(c.FormValue("redirect_uri")))
	case "refresh_token":
		t, err = pg.svc.Refresh(c.UserContext(), strings.Clone(c.FormValue("refresh_token")))
	case "":
		err = oauthError(oerrors.ErrInvalidRequest, "grant_type is required")
	default:
		err = oauthError(oerrors.ErrUnsupportedGrantType, "grant_type must be authorization_code or refresh_token")
	}
	if err != nil {
		return err
	}
	c.Set("Pragma", "no-cache")
	return reply(c, fiber.StatusOK, map[string]string{"access_token": t.Access, "token_type": "Bearer", "refresh_token": t.Refresh})
}

// clientCredentials reads HTTP Basic (form-encoded parts, RFC 6749 §2.3.1)
// or client_id and client_secret from the body.
func clientCredentials(c *fiber.Ctx) (id, secret string, err error) {
	bad := oauthError(oerrors.ErrInvalidClient, "client authentication failed")
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, enc, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "basic") {
			return "", "", bad
		}
		raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
		u, p, ok := strings.Cut(string(raw), ":")
		if derr != nil || !ok {
			return "", "", bad
		}
		if u, derr = url.QueryUnescape(u); derr != nil {
			return "", "", bad
		}
		if p, derr = url.QueryUnescape(p); derr != nil {
			return "", "", bad
		}
		return u, p, nil
	}
	return strings.Clone(c.FormValue("client_id")), strings.Clone(c.FormValue("client_secret")), nil
}
