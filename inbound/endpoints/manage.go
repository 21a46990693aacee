package endpoints

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/validate"
)

// NewEndpoint is the input to Create.
type NewEndpoint struct {
	Name         string                     `json:"name" validate:"required,max=100"`
	Action       string                     `json:"action" validate:"required,max=50"`
	Mapping      map[string]json.RawMessage `json:"mapping"`
	Verification *VerificationInput         `json:"verification"`
	SuccessURL   string                     `json:"success_url" validate:"max=2000"`
	RateLimit    int                        `json:"rate_limit" validate:"gte=0,lte=6000"`
}

// Patch is the input to Update; nil fields stay as they are. A mapping
// replaces the old one whole; a verification replaces the old one, secret
// included; "" clears success_url.
type Patch struct {
	Name         *string                     `json:"name" validate:"omitempty,max=100"`
	Mapping      *map[string]json.RawMessage `json:"mapping"`
	Verification *VerificationInput          `json:"verification"`
	SuccessURL   *string                     `json:"success_url" validate:"omitempty,max=2000"`
	Paused       *bool                       `json:"paused"`
	RateLimit    *int                        `json:"rate_limit" validate:"omitempty,gte=1,lte=6000"`
}

// Secrets are shown once: the endpoint's token (inside its URL) and its
// verification secret ("" for none).
type Secrets struct {
	Token        string
	Verification string
}

func checkSuccessURL(raw string) *apperr.FieldError {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return &apperr.FieldError{Field: "success_url", Message: "must be an absolute http or https URL without credentials"}
	}
	return nil
}

// requireAction returns the action an endpoint runs, or a 403 naming the
// first of its permissions p lacks: managing an endpoint needs what running
// it does, so an endpoint never becomes a way to act beyond one's rights.
func requireAction(p auth.Principal, name string) (action, error) {
	a, ok := findAction(name)
	if !ok {
		return action{}, fmt.Errorf("endpoints: unknown action %q", name)
	}
	if x, ok := a.lacking(p); ok {
		e := apperr.Forbidden(x)
		e.Message = fmt.Sprintf("endpoints that run %s need the %q permission", name, x)
		return action{}, e
	}
	return a, nil
}

func newToken() (raw, hash string) {
	raw = TokenPrefix + ids.Secret(32)
	return raw, sha256Hex(raw)
}

// Create creates an endpoint owned by p's user, running action with p's
// user's permissions at each post, and remembers p's credential as its
// creator. p needs the action's permissions (403 naming the first missing
// one); an account at Options.MaxEndpoints gets a 409. The token and the
// verification secret are returned once.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewEndpoint) (Endpoint, Secrets, error) {
	in.Name, in.Action, in.SuccessURL = strings.TrimSpace(in.Name), strings.TrimSpace(in.Action), strings.TrimSpace(in.SuccessURL)
	if err := validate.Struct(&in); err != nil {
		return Endpoint{}, Secrets{}, err
	}
	if _, ok := findAction(in.Action); !ok {
		return Endpoint{}, Secrets{}, apperr.InvalidField("action", "must be one of: "+actionNames())
	}
	a, err := requireAction(p, in.Action)
	if err != nil {
		return Endpoint{}, Secrets{}, err
	}
	var fields []apperr.FieldError
	m, mf := parseMapping(in.Mapping, a)
	fields = append(fields, mf...)
	v, secret, vf := checkVerification(in.Verification)
	fields = append(fields, vf...)
	if f := checkSuccessURL(in.SuccessURL); f != nil {
		fields = append(fields, *f)
	}
	if len(fields) > 0 {
		return Endpoint{}, Secrets{}, apperr.Invalid(fields...)
	}
	if in.RateLimit == 0 {
		in.RateLimit = s.opts.DefaultRateLimit
	}
	token, hash := newToken()
	now := s.now()
	e := Endpoint{
		ID: ids.New(ids.Inbound, now), AccountID: p.AccountID, OwnerID: p.UserID, Credential: p.Credential.String(),
		Name: in.Name, Action: in.Action, Mapping: m, Verification: v, SuccessURL: in.SuccessURL,
		RateLimit: in.RateLimit, TokenHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.st.create(ctx, e, s.opts.MaxEndpoints); err != nil {
		if errors.Is(err, errLimit) {
			return Endpoint{}, Secrets{}, apperr.Conflict(fmt.Sprintf("the account has reached its limit of %d inbound endpoints; "+
				"delete one first, or ask the operator to raise HOOKLINE_MAX_ENDPOINTS", s.opts.MaxEndpoints))
		}
		return Endpoint{}, Secrets{}, err
	}
	return e, Secrets{Token: token, Verification: secret}, nil
}

// visible reports whether p may see e at all: its owner, or anyone with
// manage:webhook.
func visible(p auth.Principal, e Endpoint) bool {
	return e.OwnerID == p.UserID || p.Has(perm.ManageWebhook)
}

// Endpoint returns one endpoint. Another user's endpoint is not found unless
// p holds manage:webhook, so ids cannot be probed; p also needs the
// permissions of the endpoint's action (403).
func (s *Service) Endpoint(ctx context.Context, p auth.Principal, id string) (Endpoint, error) {
	if !ids.HasPrefix(id, ids.Inbound) {
		return Endpoint{}, apperr.NotFound("inbound endpoint")
	}
	e, err := s.st.get(ctx, p.AccountID, id)
	if err != nil {
		return Endpoint{}, err
	}
	if !visible(p, e) {
		return Endpoint{}, apperr.NotFound("inbound endpoint")
	}
	if _, err := requireAction(p, e.Action); err != nil {
		return Endpoint{}, err
	}
	return e, nil
}

// Endpoints lists the endpoints p may manage, newest first: p's own (all
// with manage:webhook) whose action p may run. A page can hold fewer than
// limit while next is set.
func (s *Service) Endpoints(ctx context.Context, p auth.Principal, after string, limit int) ([]Endpoint, string, error) {
	es, next, err := s.st.list(ctx, p.AccountID, after, limit)
	if err != nil {
		return nil, "", err
	}
	out := es[:0]
	for _, e := range es {
		if _, err := requireAction(p, e.Action); err == nil && visible(p, e) {
			out = append(out, e)
		}
	}
	return out, next, nil
}

// Update applies a patch. The action cannot change. A new verification
// returns its secret once ("" otherwise).
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, in Patch) (Endpoint, string, error) {
	e, err := s.Endpoint(ctx, p, id)
	if err != nil {
		return Endpoint{}, "", err
	}
	if err := validate.Struct(&in); err != nil {
		return Endpoint{}, "", err
	}
	var fields []apperr.FieldError
	if in.Name != nil {
		e.Name = strings.TrimSpace(*in.Name)
		if e.Name == "" {
			fields = append(fields, apperr.FieldError{Field: "name", Message: "is required"})
		}
	}
	if in.Mapping != nil {
		a, _ := findAction(e.Action) // Endpoint checked it exists
		m, mf := parseMapping(*in.Mapping, a)
		fields = append(fields, mf...)
		e.Mapping = m
	}
	var secret string
	if in.Verification != nil {
		v, sec, vf := checkVerification(in.Verification)
		fields = append(fields, vf...)
		e.Verification, secret = v, sec
	}
	if in.SuccessURL != nil {
		e.SuccessURL = strings.TrimSpace(*in.SuccessURL)
		if f := checkSuccessURL(e.SuccessURL); f != nil {
			fields = append(fields, *f)
		}
	}
	if len(fields) > 0 {
		return Endpoint{}, "", apperr.Invalid(fields...)
	}
	if in.Paused != nil {
		e.Paused = *in.Paused
	}
	if in.RateLimit != nil {
		e.RateLimit = *in.RateLimit
	}
	e.UpdatedAt = s.now()
	if err := s.st.update(ctx, e); err != nil {
		return Endpoint{}, "", err
	}
	return e, secret, nil
}

// Delete deletes an endpoint and returns it as it was; its URL answers 404
// at once. Its request log goes with it. Deleting revokes the endpoint's
// credential, so the accounts revoke hooks run with it.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) (Endpoint, error) {
	e, err := s.Endpoint(ctx, p, id)
	if err != nil {
		return Endpoint{}, err
	}
	if err := s.st.delete(ctx, e); err != nil {
		return Endpoint{}, err
	}
	s.accounts.Revoked(ctx, e.AccountID, e.ownCredential())
	return e, nil
}

// RotateToken gives an endpoint a new token, returned once; the old URL
// answers 404 at once.
func (s *Service) RotateToken(ctx context.Context, p auth.Principal, id string) (Endpoint, string, error) {
	e, err := s.Endpoint(ctx, p, id)
	if err != nil {
		return Endpoint{}, "", err
	}
	token, hash := newToken()
	e.UpdatedAt = s.now()
	if err := s.st.rotate(ctx, e, hash); err != nil {
		return Endpoint{}, "", err
	}
	e.TokenHash = hash
	return e, token, nil
}

// PauseEndpointsOfCredential pauses every endpoint of the account that
// cred created (Endpoint.Credential), so a revoked credential leaves no
// working endpoint behind; it returns how many it paused (already paused
// ones are not counted). Its owner may resume them with PATCH {"paused":
// false}. A credential with an empty id matches nothing and is refused.
// The composition root calls it from the accounts revoke hook.
func (s *Service) PauseEndpointsOfCredential(ctx context.Context, acct string, cred auth.Credential) (int, error) {
	if cred.ID == "" || acct == "" {
		return 0, errors.New("endpoints: pause endpoints of a credential: empty account or credential id")
	}
	n, err := s.st.pauseCreatedBy(ctx, acct, cred.String(), s.now())
	if err != nil {
		return n, err
	}
	if n > 0 {
		s.opts.Log.Info("endpoints: paused the endpoints of a revoked credential", "account_id", acct, "credential", cred.String(), "paused", n)
	}
	return n, nil
}

// RotateSecrets seals again, under Options.Secrets' current key, every
// stored HMAC and Standard Webhooks verification secret of every account
// that is stale (plain, or sealed under an older key), and returns how many
// values it changed. It is safe to run while the gateway serves: a value
// changed meanwhile is left as it is. `hookline admin rotate-secrets`
// calls it. With no Secrets it changes nothing.
func (s *Service) RotateSecrets(ctx context.Context) (int, error) {
	if !s.opts.Secrets.Enabled() {
		return 0, nil
	}
	accts, err := s.st.accountIDs(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, acct := range accts {
		n, err := s.st.reseal(ctx, acct)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
