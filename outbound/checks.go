package outbound

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/retry"
	"github.com/hookline/hookline/app/validate"
)

// AuthInput is how a client sets a webhook's auth.
type AuthInput struct {
	Type     string `json:"type" validate:"required,oneof=none basic bearer"`
	Username string `json:"username" validate:"max=200"`
	Password string `json:"password" validate:"max=500"`
	Token    string `json:"token" validate:"max=2000"`
}

// NewWebhook is the input to CreateWebhook.
type NewWebhook struct {
	Name          string            `json:"name" validate:"required,max=100"`
	URL           string            `json:"url" validate:"required,max=2000"`
	Method        string            `json:"method" validate:"omitempty,oneof=POST GET"`
	Events        []string          `json:"events" validate:"required,min=1,max=50,dive,required,max=81"`
	Auth          *AuthInput        `json:"auth"`
	Headers       map[string]string `json:"headers" validate:"max=20"`
	RetrySchedule []string          `json:"retry_schedule"` // checked by parseSchedule (app/retry)
	Timeout       string            `json:"timeout" validate:"max=20"`
	RateLimit     float64           `json:"rate_limit" validate:"gte=0,lte=1000"`
	MaxInFlight   int               `json:"max_in_flight" validate:"gte=0,lte=100"` // 0: DefaultMaxInFlight

	// Source and Active are set by integrations, never decoded from clients.
	Source string `json:"-"`
	Active bool   `json:"-"`
}

// WebhookPatch is the input to UpdateWebhook; nil fields stay as they are.
type WebhookPatch struct {
	Name          *string            `json:"name" validate:"omitempty,min=1,max=100"`
	URL           *string            `json:"url" validate:"omitempty,max=2000"`
	Method        *string            `json:"method" validate:"omitempty,oneof=POST GET"`
	Events        []string           `json:"events" validate:"omitempty,min=1,max=50,dive,required,max=81"`
	Auth          *AuthInput         `json:"auth"`
	Headers       *map[string]string `json:"headers"`
	RetrySchedule *[]string          `json:"retry_schedule"`
	Timeout       *string            `json:"timeout"`
	RateLimit     *float64           `json:"rate_limit" validate:"omitempty,gte=0,lte=1000"`
	MaxInFlight   *int               `json:"max_in_flight" validate:"omitempty,gte=1,lte=100"`
	Active        *bool              `json:"active"`
}

// reservedHeaders are set by Hookline on every request.
var reservedHeaders = map[string]bool{
	"content-type": true, "content-length": true, "host": true, "user-agent": true, "connection": true,
	"transfer-encoding": true, "webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
	"signature": true, "idempotency-key": true,
}

// checkURL checks a target URL against the delivery policy (scheme,
// private addresses, allow list), as a field error on "url".
func (s *Service) checkURL(ctx context.Context, raw string) *apperr.FieldError {
	if err := s.opts.Policy.CheckURL(ctx, raw); err != nil {
		return &apperr.FieldError{Field: "url", Message: err.Error()}
	}
	return nil
}

// checkHeaders checks a webhook's custom headers: valid names, none that
// Hookline sets itself, no Authorization beside an auth setting, and
// one-line values; each problem is a field error on "headers.<name>".
func checkHeaders(h map[string]string, auth string) []apperr.FieldError {
	var fields []apperr.FieldError
	for name, v := range h {
		lower := strings.ToLower(name)
		switch {
		case !validate.HeaderName(name):
			fields = append(fields, apperr.FieldError{Field: "headers." + name, Message: "is not a valid header name"})
		case reservedHeaders[lower] || strings.HasPrefix(lower, "hookline-"):
			fields = append(fields, apperr.FieldError{Field: "headers." + name, Message: "is set by Hookline and cannot be overridden"})
		case lower == "authorization" && auth != "none":
			fields = append(fields, apperr.FieldError{Field: "headers." + name, Message: "conflicts with auth; use one or the other"})
		case len(v) > 1000 || !validHeaderValue(v):
			fields = append(fields, apperr.FieldError{Field: "headers." + name, Message: "must be at most 1000 characters on one line, without control characters"})
		}
	}
	return fields
}

// validHeaderValue reports whether Go's HTTP client will send v as a
// header value: no control characters but tab (RFC 9110 field-value).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// checkRateLimit checks a webhook's rate_limit: 0 (unlimited) or at
// least one delivery a minute, which the limiter keeps exactly.
func checkRateLimit(r float64) *apperr.FieldError {
	if r != 0 && r < MinRateLimit {
		return &apperr.FieldError{Field: "rate_limit", Message: "must be 0 (unlimited) or at least 0.0167 (one delivery a minute)"}
	}
	return nil
}

// checkAuth turns the auth input into the stored setting; nil means none.
func checkAuth(a *AuthInput) (Auth, []apperr.FieldError) {
	if a == nil {
		return Auth{Type: "none"}, nil
	}
	switch a.Type {
	case "basic":
		if a.Username == "" {
			return Auth{}, []apperr.FieldError{{Field: "auth.username", Message: "is required for basic auth"}}
		}
		return Auth{Type: "basic", Username: a.Username, Secret: a.Password}, nil
	case "bearer":
		if a.Token == "" || strings.ContainsAny(a.Token, "\r\n ") {
			return Auth{}, []apperr.FieldError{{Field: "auth.token", Message: "is required for bearer auth and must be one word"}}
		}
		return Auth{Type: "bearer", Secret: a.Token}, nil
	}
	return Auth{Type: "none"}, nil
}

// parseTimeout reads a webhook's request timeout: 1 s to MaxTimeout
// (30 s), 15 s when empty.
func parseTimeout(s string) (time.Duration, *apperr.FieldError) {
	if s == "" {
		return 15 * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || d > MaxTimeout {
		return 0, &apperr.FieldError{Field: "timeout", Message: "must be a duration from 1s to 30s, such as 15s"}
	}
	return d, nil
}

// parseSchedule reads a webhook's retry_schedule with the one rule for
// schedules (app/retry, as the operator's default is read); nil means the
// default schedule.
func (s *Service) parseSchedule(in []string) ([]time.Duration, []apperr.FieldError) {
	if in == nil {
		return append([]time.Duration(nil), s.opts.RetrySchedule...), nil
	}
	if len(in) > retry.MaxRetries {
		return nil, []apperr.FieldError{{Field: "retry_schedule", Message: fmt.Sprintf("must have at most %d items", retry.MaxRetries)}}
	}
	out := make([]time.Duration, 0, len(in))
	for i, v := range in {
		d, err := retry.ParseWait(v)
		if err != nil {
			return nil, []apperr.FieldError{{Field: fmt.Sprintf("retry_schedule[%d]", i), Message: retry.Rule}}
		}
		out = append(out, d)
	}
	return out, nil
}

// checkEvents checks that each type is in the catalog and readable by p:
// a webhook must never read data its owner may not read.
func (s *Service) checkEvents(ctx context.Context, p auth.Principal, evs []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i, e := range evs {
		t, err := s.deps.Catalog.Get(ctx, p.AccountID, e)
		if apperr.IsCode(err, apperr.CodeNotFound) {
			return nil, apperr.InvalidField(fmt.Sprintf("events[%d]", i), fmt.Sprintf("%q is not an event type in the catalog", e))
		}
		if err != nil {
			return nil, err
		}
		if err := p.Require(t.Permission); err != nil {
			ae := apperr.As(err)
			ae.Message = fmt.Sprintf("subscribing to %s needs the %q permission", e, t.Permission)
			return nil, ae
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// requireWebhookPerm is the gate of every webhook and delivery method:
// subscribe:webhook (one's own) or manage:webhook (the account's).
func requireWebhookPerm(p auth.Principal) error {
	if p.Has(perm.SubscribeWebhook) || p.Has(perm.ManageWebhook) {
		return nil
	}
	return apperr.Forbidden(perm.SubscribeWebhook)
}

// visibleTo is the ownership rule of webhooks and their deliveries: one's
// own, or any of the account's with manage:webhook. What is not visible is
// reported as not found, so ids cannot be probed.
func (w Webhook) visibleTo(p auth.Principal) bool {
	return w.OwnerID == p.UserID || p.Has(perm.ManageWebhook)
}

// mayRead reports whether p may read events of type typ: the type's read
// permission from the catalog. webhook.test events carry nothing to read;
// a type no longer in the catalog is readable by nobody.
func (s *Service) mayRead(ctx context.Context, p auth.Principal, acct, typ string) (bool, error) {
	if typ == TestEventType {
		return true, nil
	}
	t, err := s.deps.Catalog.Get(ctx, acct, typ)
	if apperr.IsCode(err, apperr.CodeNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return p.Has(t.Permission), nil
}

// ownerMayRead reports whether w's owner, as accounts builds the owner's
// principal (the same as at fan-out, cached for at most OwnerCacheTTL),
// may read events of type typ. A closed account or a removed user may read
// nothing.
func (s *Service) ownerMayRead(ctx context.Context, w Webhook, typ string) (bool, error) {
	owner, active, err := s.owner(ctx, w)
	if err != nil || !active {
		return false, err
	}
	return s.mayRead(ctx, owner, w.AccountID, typ)
}
