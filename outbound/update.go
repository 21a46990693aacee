package outbound

import (
	"context"
	"strings"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/validate"
)

// UpdateWebhook applies a patch, writing only the fields it changes, so a
// concurrent rotate-secret or the worker's failure count and auto-disable
// are never undone by a stale read.
//
// Changing where or how the webhook delivers (url, method, auth, headers,
// active) needs the read permission of every event type it subscribes to,
// as subscribing does: a key without them cannot re-point a subscription
// of its user at itself. The url of a Zapier subscription cannot change
// (Zapier owns it). Turning a webhook on clears a disabled reason and
// sends it a webhook.test event at once.
func (s *Service) UpdateWebhook(ctx context.Context, p auth.Principal, id string, in WebhookPatch) (Webhook, error) {
	if err := validate.Struct(&in); err != nil {
		if _, verr := s.visible(ctx, p, id); verr != nil {
			return Webhook{}, verr // not yours looks absent, whatever the body
		}
		return Webhook{}, err
	}
	// Only a concurrent change of the events races (their index moves
	// with them): read again and re-apply.
	for try := 0; try < 3; try++ {
		w, raced, err := s.updateOnce(ctx, p, id, in)
		if err != nil || !raced {
			return w, err
		}
	}
	return Webhook{}, apperr.Conflict("the webhook's events changed while being updated; retry")
}

func (s *Service) updateOnce(ctx context.Context, p auth.Principal, id string, in WebhookPatch) (Webhook, bool, error) {
	old, err := s.visible(ctx, p, id)
	if err != nil {
		return Webhook{}, false, err
	}
	w := old
	var fields []apperr.FieldError
	var changed []string
	// sensitive: the change decides where the subscription's data goes.
	sensitive := false
	if in.Name != nil {
		w.Name = strings.TrimSpace(*in.Name)
		if w.Name == "" {
			fields = append(fields, apperr.FieldError{Field: "name", Message: "is required"})
		}
		changed = append(changed, "name")
	}
	if in.URL != nil && strings.TrimSpace(*in.URL) != old.URL {
		w.URL = strings.TrimSpace(*in.URL)
		if old.Source == SourceZapier {
			fields = append(fields, apperr.FieldError{Field: "url", Message: "cannot be changed on a Zapier subscription; Zapier sets it when a Zap is turned on"})
		} else if f := s.checkURL(ctx, w.URL); f != nil {
			fields = append(fields, *f)
		}
		changed, sensitive = append(changed, "url"), true
	}
	if in.Method != nil && *in.Method != old.Method {
		w.Method = *in.Method
		changed, sensitive = append(changed, "method"), true
	}
	if in.Auth != nil {
		a, af := checkAuth(in.Auth)
		fields = append(fields, af...)
		w.Auth = a
		changed, sensitive = append(changed, "auth_type", "auth_username", fieldAuthSecret), true
	}
	if in.Headers != nil {
		w.Headers = *in.Headers
		if len(w.Headers) > 20 {
			fields = append(fields, apperr.FieldError{Field: "headers", Message: "must have at most 20 items"})
		}
		changed, sensitive = append(changed, "headers"), true
	}
	if in.Headers != nil || in.Auth != nil {
		h := w.Headers
		if in.Headers == nil {
			h = namesOnly(w.Headers) // stored values are sealed; only the names meet the new auth
		}
		fields = append(fields, checkHeaders(h, w.Auth.Type)...)
	}
	if in.Timeout != nil {
		t, tf := parseTimeout(*in.Timeout)
		if tf != nil {
			fields = append(fields, *tf)
		}
		w.Timeout = t
		changed = append(changed, "timeout_ms")
	}
	if in.RetrySchedule != nil {
		sched, sf := s.parseSchedule(*in.RetrySchedule)
		fields = append(fields, sf...)
		w.RetrySchedule = sched
		changed = append(changed, "retry_schedule")
	}
	if in.RateLimit != nil {
		w.RateLimit = *in.RateLimit
		if f := checkRateLimit(w.RateLimit); f != nil {
			fields = append(fields, *f)
		}
		changed = append(changed, "rate_limit")
	}
	if in.MaxInFlight != nil {
		w.MaxInFlight = *in.MaxInFlight
		changed = append(changed, "max_in_flight")
	}
	if len(fields) > 0 {
		return Webhook{}, false, apperr.Invalid(fields...)
	}
	if in.Events != nil {
		evs, err := s.checkEvents(ctx, p, in.Events)
		if err != nil {
			return Webhook{}, false, err
		}
		w.Events = evs
		changed = append(changed, "events")
	}
	activated := false
	if in.Active != nil && *in.Active != old.Active {
		if *in.Active {
			activated = true
			w.DisabledReason, w.DisabledAt, w.ConsecutiveFailures = "", time.Time{}, 0
			changed = append(changed, "disabled_reason", "disabled_at", "consecutive_failures")
		}
		w.Active = *in.Active
		changed, sensitive = append(changed, "active"), true
	}
	if sensitive && in.Events == nil { // new events were checked above
		if _, err := s.checkEvents(ctx, p, w.Events); err != nil {
			return Webhook{}, false, err
		}
	}
	w.UpdatedAt = s.now()
	kv, err := s.st.fields(w, append(changed, "updated_at")...)
	if err != nil {
		return Webhook{}, false, err
	}
	var guard, expected string
	var was, now []string
	if in.Events != nil {
		guard, expected, was, now = "events", strings.Join(old.Events, ","), old.Events, w.Events
	}
	switch n, err := s.st.update(ctx, w.AccountID, w.ID, was, now, guard, expected, kv...); {
	case err != nil:
		return Webhook{}, false, err
	case n == updGone:
		return Webhook{}, false, apperr.NotFound("webhook")
	case n == updRaced:
		return Webhook{}, true, nil
	}
	if activated {
		if _, err := s.sendTest(ctx, w); err != nil {
			return Webhook{}, false, err
		}
	}
	return s.seal.forShow(w), false, nil
}

// namesOnly is h with every value emptied.
func namesOnly(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k := range h {
		out[k] = ""
	}
	return out
}
