package ifttt

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/url"
	"strings"
	"time"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/perm"
)

// The authorization server's lifetimes. Access tokens do not expire on a
// timer (IFTTT expects that); they die with revocation, the user's removal
// or the account's closure.
const (
	codeTTL        = 10 * time.Minute
	authzTTL       = 15 * time.Minute
	rotationGrace  = time.Minute
	signInWindow   = 15 * time.Minute
	maxSignInFails = 10  // per email
	maxAddrFails   = 100 // per client address, which a proxy may share among many users
	connPrefix     = "con"
)

// oauthError is an error of the token endpoint: the RFC 6749 code (one of
// go-oauth2's errors) travels as the cause of an apperr.Error, whose code
// picks the status from the one table (400, or 401 for invalid_client).
func oauthError(code error, message string) *apperr.Error {
	ac := apperr.CodeBadRequest
	if errors.Is(code, oerrors.ErrInvalidClient) {
		ac = apperr.CodeUnauthorized
	}
	return &apperr.Error{Code: ac, Message: message, Cause: code}
}

// RedirectURI is the one redirect_uri IFTTT may use.
func (s *Service) RedirectURI() string {
	return "https://ifttt.com/channels/" + s.opts.ServiceID + "/authorize"
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// AuthorizeRequest is what IFTTT sends to /oauth/authorize.
type AuthorizeRequest struct {
	ClientID, ResponseType, RedirectURI, State, Scope string
}

// Pending is an authorization in progress: its id and the CSRF token its
// forms must carry back (also set as a cookie by the page).
type Pending struct {
	ID, CSRF string
	Email    string // once signed in
	Account  string // the account's name, once signed in
}

// StartAuthorization checks the client and redirect URI (a mismatch is
// refused on the page, never redirected to) and records a pending
// authorization.
func (s *Service) StartAuthorization(ctx context.Context, r AuthorizeRequest) (Pending, error) {
	if !s.Enabled() || !same(r.ClientID, s.opts.ClientID) {
		return Pending{}, apperr.BadRequest("unknown client_id: this page only authorizes IFTTT")
	}
	if !same(r.RedirectURI, s.RedirectURI()) {
		return Pending{}, apperr.BadRequest("redirect_uri is not the one registered for IFTTT")
	}
	if r.ResponseType != oauth2.Code.String() {
		return Pending{}, apperr.BadRequest("response_type must be code")
	}
	if len(r.State) > 1000 || len(r.Scope) > 200 {
		return Pending{}, apperr.BadRequest("state or scope is too long")
	}
	p := Pending{ID: ids.Secret(24), CSRF: ids.Secret(24)}
	err := s.st.putAuthorization(ctx, p.ID, map[string]any{
		"state": r.State, "scope": r.Scope, "csrf": hashToken(p.CSRF), "created_at": s.now().UnixMilli(),
	}, authzTTL)
	return p, err
}

var errAuthzGone = apperr.BadRequest("this authorization page has expired or was already used: start again from IFTTT")

// pending loads a pending authorization whose CSRF token matches.
func (s *Service) pending(ctx context.Context, id, csrf string) (map[string]string, error) {
	if id == "" || csrf == "" || len(id) > 64 {
		return nil, errAuthzGone
	}
	m, err := s.st.authorization(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, errAuthzGone
	}
	if !same(m["csrf"], hashToken(csrf)) {
		return nil, apperr.BadRequest("the form's security token does not match: start again from IFTTT")
	}
	return m, nil
}

// SignIn checks a user's email and password for a pending authorization.
// Failures are counted per email (10) and per client address (100); past a limit
// sign-in is refused for the window (429) without checking the password.
func (s *Service) SignIn(ctx context.Context, id, csrf, email, password, client string) (Pending, error) {
	if _, err := s.pending(ctx, id, csrf); err != nil {
		return Pending{}, err
	}
	subjects := []string{"email:" + hashToken(strings.ToLower(strings.TrimSpace(email))), "addr:" + hashToken(client)}
	for i, sub := range subjects {
		n, err := s.st.attempts(ctx, sub, false, signInWindow)
		if err != nil {
			return Pending{}, err
		}
		if limit := []int64{maxSignInFails, maxAddrFails}[i]; n >= limit {
			return Pending{}, apperr.RateLimited("too many failed sign-ins: try again in 15 minutes", signInWindow)
		}
	}
	u, err := s.d.Accounts.CheckPassword(ctx, email, password)
	if apperr.IsCode(err, apperr.CodeUnauthorized) {
		for _, sub := range subjects {
			if _, err := s.st.attempts(ctx, sub, true, signInWindow); err != nil {
				return Pending{}, err
			}
		}
		return Pending{}, err
	}
	if err != nil {
		return Pending{}, err
	}
	if _, err := s.d.Accounts.Principal(ctx, u.AccountID, u.ID, auth.Credential{}, nil); err != nil {
		return Pending{}, err
	}
	return s.decider(ctx, id, u.AccountID, u.ID)
}

// SignInAs records p's user as the one deciding a pending authorization,
// without a password: the surface calls it when the request already
// carries a sign-in it trusts (the dashboard's session), whose principal
// was just built from the user as read now. The consent form still needs
// the new CSRF token it returns.
func (s *Service) SignInAs(ctx context.Context, id, csrf string, p auth.Principal) (Pending, error) {
	if _, err := s.pending(ctx, id, csrf); err != nil {
		return Pending{}, err
	}
	if p.AccountID == "" || p.UserID == "" {
		return Pending{}, apperr.Unauthorized("sign in first")
	}
	return s.decider(ctx, id, p.AccountID, p.UserID)
}

// decider stores the signed-in user on a pending authorization and returns
// what the consent page shows, with a new CSRF token: the sign-in form's
// cannot approve.
func (s *Service) decider(ctx context.Context, id, acct, user string) (Pending, error) {
	u, err := s.d.Accounts.User(ctx, acct, user)
	if err != nil {
		return Pending{}, err
	}
	a, err := s.d.Accounts.Account(ctx, acct)
	if err != nil {
		return Pending{}, err
	}
	next := Pending{ID: id, CSRF: ids.Secret(24), Email: u.Email, Account: a.Name}
	err = s.st.putAuthorization(ctx, id, map[string]any{
		"account_id": acct, "user_id": user, "csrf": hashToken(next.CSRF),
	}, authzTTL)
	return next, err
}

// Decide finishes a signed-in authorization: approving issues a code
// (single use, 10 minutes) and returns redirect_uri?code=…&state=…;
// denying returns redirect_uri?error=access_denied&state=….
func (s *Service) Decide(ctx context.Context, id, csrf string, approve bool) (string, error) {
	m, err := s.pending(ctx, id, csrf)
	if err != nil {
		return "", err
	}
	if m["user_id"] == "" {
		return "", apperr.BadRequest("sign in first")
	}
	if ok, err := s.st.takeAuthorization(ctx, id); err != nil || !ok {
		if err == nil {
			err = errAuthzGone
		}
		return "", err
	}
	q := url.Values{}
	if approve {
		code := ids.Secret(32)
		if err := s.st.putCode(ctx, hashToken(code), m["account_id"], m["user_id"], s.now(), codeTTL); err != nil {
			return "", err
		}
		q.Set("code", code)
	} else {
		q.Set("error", oerrors.ErrAccessDenied.Error())
	}
	if m["state"] != "" {
		q.Set("state", m["state"])
	}
	return s.RedirectURI() + "?" + q.Encode(), nil
}

// Tokens is what the token endpoint answers.
type Tokens struct {
	Access, Refresh string
	Connection      Connection
}

// CheckClient authenticates the OAuth client (HTTP Basic or
// client_secret_post): anything else is 401 invalid_client.
func (s *Service) CheckClient(id, secret string) error {
	if !s.Enabled() || !same(id, s.opts.ClientID) || !same(secret, s.opts.ClientSecret) {
		return oauthError(oerrors.ErrInvalidClient, "client authentication failed")
	}
	return nil
}

var errBadGrant = oauthError(oerrors.ErrInvalidGrant, "the code or refresh token is invalid, expired, revoked or was issued for another redirect_uri")

// Exchange trades an authorization code for a new connection's tokens. A
// code works once, for 10 minutes, with the registered redirect_uri.
func (s *Service) Exchange(ctx context.Context, code, redirectURI string) (Tokens, error) {
	if code == "" {
		return Tokens{}, oauthError(oerrors.ErrInvalidRequest, "code is required")
	}
	acct, user, at, err := s.st.takeCode(ctx, hashToken(code))
	if errors.Is(err, errNoToken) {
		return Tokens{}, errBadGrant
	}
	if err != nil {
		return Tokens{}, err
	}
	now := s.now()
	if now.Sub(at) >= codeTTL || !same(redirectURI, s.RedirectURI()) {
		return Tokens{}, errBadGrant
	}
	if _, err := s.d.Accounts.Principal(ctx, acct, user, auth.Credential{}, nil); err != nil {
		return Tokens{}, errBadGrant
	}
	c := Connection{ID: ids.New(connPrefix, now), AccountID: acct, UserID: user, ClientID: s.opts.ClientID, CreatedAt: now}
	if err := s.st.createConnection(ctx, c); err != nil {
		return Tokens{}, err
	}
	return s.issue(ctx, c)
}

// issue mints an access and a refresh token for a connection.
func (s *Service) issue(ctx context.Context, c Connection) (Tokens, error) {
	t := Tokens{Access: ids.Secret(32), Refresh: ids.Secret(32), Connection: c}
	err := s.st.putTokens(ctx, c.AccountID, c.ID, map[string]string{"access": hashToken(t.Access), "refresh": hashToken(t.Refresh)})
	return t, err
}

// Refresh rotates a connection's tokens: a new pair is issued, and every
// token issued before keeps working for one more minute (a client that
// lost the answer can retry), then dies.
func (s *Service) Refresh(ctx context.Context, raw string) (Tokens, error) {
	if raw == "" {
		return Tokens{}, oauthError(oerrors.ErrInvalidRequest, "refresh_token is required")
	}
	ref, err := s.st.token(ctx, hashToken(raw))
	if errors.Is(err, errNoToken) {
		return Tokens{}, errBadGrant
	}
	if err != nil {
		return Tokens{}, err
	}
	now := s.now()
	if ref.kind != "refresh" || (!ref.until.IsZero() && !now.Before(ref.until)) {
		return Tokens{}, errBadGrant
	}
	c, err := s.st.connection(ctx, ref.acct, ref.conn)
	if err != nil || !c.RevokedAt.IsZero() {
		return Tokens{}, errBadGrant
	}
	if _, err := s.d.Accounts.Principal(ctx, c.AccountID, c.UserID, c.Credential(), nil); err != nil {
		return Tokens{}, errBadGrant
	}
	old, err := s.st.liveTokens(ctx, c.AccountID, c.ID)
	if err != nil {
		return Tokens{}, err
	}
	// Redis forgets them a while after the grace ends by the service's clock.
	if err := s.st.expireTokens(ctx, old, now.Add(rotationGrace), rotationGrace+time.Hour); err != nil {
		return Tokens{}, err
	}
	return s.issue(ctx, c)
}

// Connections lists the caller's own IFTTT connections, newest first (an
// account manager, holding manage:account, sees every user's). No token
// is ever shown.
func (s *Service) Connections(ctx context.Context, p auth.Principal, after string, limit int) ([]Connection, string, error) {
	list, next, err := s.st.listConnections(ctx, p.AccountID, after, limit)
	if err != nil {
		return nil, "", err
	}
	out := list[:0]
	for _, c := range list {
		if c.UserID == p.UserID || p.Has(perm.ManageAccount) {
			out = append(out, c)
		}
	}
	return out, next, nil
}

// RevokeConnection revokes one of the caller's connections (any of the
// account's with manage:account): its tokens fail at once, and the revoke
// hooks run (its trigger identities are dropped). Unknown, foreign and
// already revoked connections are not found.
func (s *Service) RevokeConnection(ctx context.Context, p auth.Principal, id string) (Connection, error) {
	if !ids.HasPrefix(id, connPrefix) {
		return Connection{}, apperr.NotFound("connection")
	}
	c, err := s.st.connection(ctx, p.AccountID, id)
	if err != nil {
		return Connection{}, err
	}
	if !c.RevokedAt.IsZero() || (c.UserID != p.UserID && !p.Has(perm.ManageAccount)) {
		return Connection{}, apperr.NotFound("connection")
	}
	c.RevokedAt = s.now()
	if _, err := s.st.revokeConnection(ctx, c.AccountID, c.ID, c.RevokedAt); err != nil {
		return Connection{}, err
	}
	s.d.Accounts.Revoked(ctx, c.AccountID, c.Credential())
	return c, nil
}

// scopeLines is the consent page's list of what IFTTT may do.
func scopeLines() []string {
	return []string{
		"see your customers and the events you may read, to run your Applets' triggers and queries",
		"create and update customers, when your Applets run actions",
		"be told by Hookline when something new happens, so Applets run at once",
	}
}
