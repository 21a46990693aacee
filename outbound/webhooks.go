package outbound

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/validate"
	"github.com/hookline/hookline/outbound/signing"
)

// CreateWebhook creates a webhook owned by p's user, inactive unless the
// input says otherwise (integrations), with a fresh signing secret that is
// returned once. The caller needs subscribe:webhook and each event type's
// read permission.
func (s *Service) CreateWebhook(ctx context.Context, p auth.Principal, in NewWebhook) (Webhook, error) {
	if err := requireWebhookPerm(p); err != nil {
		return Webhook{}, err
	}
	in.Name, in.URL = strings.TrimSpace(in.Name), strings.TrimSpace(in.URL)
	if err := validate.Struct(&in); err != nil {
		return Webhook{}, err
	}
	var fields []apperr.FieldError
	if f := s.checkURL(ctx, in.URL); f != nil {
		fields = append(fields, *f)
	}
	a, af := checkAuth(in.Auth)
	fields = append(fields, af...)
	fields = append(fields, checkHeaders(in.Headers, a.Type)...)
	timeout, tf := parseTimeout(in.Timeout)
	if tf != nil {
		fields = append(fields, *tf)
	}
	sched, sf := s.parseSchedule(in.RetrySchedule)
	fields = append(fields, sf...)
	if f := checkRateLimit(in.RateLimit); f != nil {
		fields = append(fields, *f)
	}
	if len(fields) > 0 {
		return Webhook{}, apperr.Invalid(fields...)
	}
	evs, err := s.checkEvents(ctx, p, in.Events)
	if err != nil {
		return Webhook{}, err
	}
	if in.Method == "" {
		in.Method = http.MethodPost
	}
	if in.Source == "" {
		in.Source = SourceAPI
	}
	if in.MaxInFlight == 0 {
		in.MaxInFlight = DefaultMaxInFlight
	}
	now := s.now()
	w := Webhook{
		ID: ids.New(ids.Webhook, now), AccountID: p.AccountID, OwnerID: p.UserID, Credential: p.Credential.String(), Source: in.Source,
		Name: in.Name, URL: in.URL, OriginURL: in.URL, Method: in.Method, Events: evs, Auth: a, Headers: in.Headers,
		RetrySchedule: sched, Timeout: timeout, RateLimit: in.RateLimit, MaxInFlight: in.MaxInFlight, Active: in.Active,
		Secret: signing.NewSecret(), CreatedAt: now, UpdatedAt: now,
	}
	created, err := s.st.create(ctx, w, s.opts.MaxWebhooks)
	if err != nil {
		return Webhook{}, err
	}
	if !created {
		return Webhook{}, apperr.Conflict(fmt.Sprintf("the account has reached its limit of %d webhooks; delete unused ones or ask the operator to raise HOOKLINE_MAX_WEBHOOKS", s.opts.MaxWebhooks))
	}
	return w, nil
}

// Webhook returns one webhook, without its secrets (as sealed at rest,
// they are not opened for showing). A webhook owned by another user is
// reported as not found unless p holds manage:webhook, so ids cannot be
// probed.
func (s *Service) Webhook(ctx context.Context, p auth.Principal, id string) (Webhook, error) {
	w, err := s.visible(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	return s.seal.forShow(w), nil
}

// visible reads one webhook as stored (secrets sealed) if p may see it.
func (s *Service) visible(ctx context.Context, p auth.Principal, id string) (Webhook, error) {
	if err := requireWebhookPerm(p); err != nil {
		return Webhook{}, err
	}
	if !ids.HasPrefix(id, ids.Webhook) {
		return Webhook{}, apperr.NotFound("webhook")
	}
	w, err := s.st.get(ctx, p.AccountID, id)
	if err != nil {
		return Webhook{}, err
	}
	if !w.visibleTo(p) {
		return Webhook{}, apperr.NotFound("webhook")
	}
	return w, nil
}

// Webhooks lists the webhooks p may see, newest first.
func (s *Service) Webhooks(ctx context.Context, p auth.Principal, after string, limit int) ([]Webhook, string, error) {
	if err := requireWebhookPerm(p); err != nil {
		return nil, "", err
	}
	ws, next, err := s.st.list(ctx, p.AccountID, after, limit)
	if err != nil {
		return nil, "", err
	}
	own := ws[:0]
	for _, w := range ws {
		if w.visibleTo(p) {
			own = append(own, s.seal.forShow(w))
		}
	}
	return own, next, nil
}

// DeleteWebhook deletes a webhook. Its deliveries stay readable by id, for
// callers holding manage:webhook, until they expire.
func (s *Service) DeleteWebhook(ctx context.Context, p auth.Principal, id string) (Webhook, error) {
	w, err := s.visible(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	return s.seal.forShow(w), s.remove(ctx, w, RemovedByUser)
}

// RemoveWebhook deletes one of p's webhooks of the given source (any source
// when empty), recording why; a webhook of another source is not found.
func (s *Service) RemoveWebhook(ctx context.Context, p auth.Principal, id, source, why string) (Webhook, error) {
	w, err := s.visible(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	if source != "" && w.Source != source {
		return Webhook{}, apperr.NotFound("webhook")
	}
	return s.seal.forShow(w), s.remove(ctx, w, why)
}
