package outbound

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/perm"
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
	now := s.now()
	w := Webhook{
		ID: ids.New(ids.Webhook, now), AccountID: p.AccountID, OwnerID: p.UserID, Credential: p.Credential.String(), Source: in.Source,
		Name: in.Name, URL: in.URL, Method: in.Method, Events: evs, Auth: a, Headers: in.Headers,
		RetrySchedule: sched, Timeout: timeout, RateLimit: in.RateLimit, Active: in.Active,
		Secret: signing.NewSecret(), CreatedAt: now, UpdatedAt: now,
	}
	if err := s.st.save(ctx, Webhook{}, w); err != nil {
		return Webhook{}, err
	}
	return w, nil
}

// Webhook returns one webhook. A webhook owned by another user is reported
// as not found unless p holds manage:webhook, so ids cannot be probed.
func (s *Service) Webhook(ctx context.Context, p auth.Principal, id string) (Webhook, error) {
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
	if err != nil || p.Has(perm.ManageWebhook) {
		return ws, next, err
	}
	own := ws[:0]
	for _, w := range ws {
		if w.visibleTo(p) {
			own = append(own, w)
		}
	}
	return own, next, nil
}

// UpdateWebhook applies a patch. Turning a webhook on clears a disabled
// reason and sends it a webhook.test event at once.
func (s *Service) UpdateWebhook(ctx context.Context, p auth.Principal, id string, in WebhookPatch) (Webhook, error) {
	old, err := s.Webhook(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	if err := validate.Struct(&in); err != nil {
		return Webhook{}, err
	}
	w := old
	var fields []apperr.FieldError
	if in.Name != nil {
		w.Name = strings.TrimSpace(*in.Name)
		if w.Name == "" {
			fields = append(fields, apperr.FieldError{Field: "name", Message: "is required"})
		}
	}
	if in.URL != nil {
		w.URL = strings.TrimSpace(*in.URL)
		if f := s.checkURL(ctx, w.URL); f != nil {
			fields = append(fields, *f)
		}
	}
	if in.Method != nil {
		w.Method = *in.Method
	}
	if in.Auth != nil {
		a, af := checkAuth(in.Auth)
		fields = append(fields, af...)
		w.Auth = a
	}
	if in.Headers != nil {
		w.Headers = *in.Headers
		if len(w.Headers) > 20 {
			fields = append(fields, apperr.FieldError{Field: "headers", Message: "must have at most 20 items"})
		}
	}
	if in.Headers != nil || in.Auth != nil {
		fields = append(fields, checkHeaders(w.Headers, w.Auth.Type)...)
	}
	if in.Timeout != nil {
		t, tf := parseTimeout(*in.Timeout)
		if tf != nil {
			fields = append(fields, *tf)
		}
		w.Timeout = t
	}
	if in.RetrySchedule != nil {
		sched, sf := s.parseSchedule(*in.RetrySchedule)
		fields = append(fields, sf...)
		w.RetrySchedule = sched
	}
	if in.RateLimit != nil {
		w.RateLimit = *in.RateLimit
	}
	if len(fields) > 0 {
		return Webhook{}, apperr.Invalid(fields...)
	}
	if in.Events != nil {
		evs, err := s.checkEvents(ctx, p, in.Events)
		if err != nil {
			return Webhook{}, err
		}
		w.Events = evs
	}
	activated := false
	if in.Active != nil {
		if *in.Active && !old.Active {
			activated = true
			w.DisabledReason, w.DisabledAt, w.ConsecutiveFailures = "", time.Time{}, 0
		}
		w.Active = *in.Active
	}
	w.UpdatedAt = s.now()
	if err := s.st.save(ctx, old, w); err != nil {
		return Webhook{}, err
	}
	if activated {
		if _, err := s.sendTest(ctx, w); err != nil {
			return Webhook{}, err
		}
	}
	return w, nil
}

// DeleteWebhook deletes a webhook. Its deliveries stay readable by id, for
// callers holding manage:webhook, until they expire.
func (s *Service) DeleteWebhook(ctx context.Context, p auth.Principal, id string) (Webhook, error) {
	w, err := s.Webhook(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	return w, s.remove(ctx, w, RemovedByUser)
}

// RemoveWebhook deletes one of p's webhooks of the given source (any source
// when empty), recording why; a webhook of another source is not found.
func (s *Service) RemoveWebhook(ctx context.Context, p auth.Principal, id, source, why string) (Webhook, error) {
	w, err := s.Webhook(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	if source != "" && w.Source != source {
		return Webhook{}, apperr.NotFound("webhook")
	}
	return w, s.remove(ctx, w, why)
}
