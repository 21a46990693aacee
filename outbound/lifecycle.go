package outbound

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/outbound/safehttp"
	"github.com/hookline/hookline/outbound/signing"
)

// Reasons a webhook is removed, as OnRemoved hooks see them.
const (
	RemovedByUser     = "api"     // DELETE /v1/webhooks/{id}
	RemovedByReceiver = "gone"    // the receiver answered 410
	RemovedByRevoke   = "revoked" // the credential that created it was revoked
	RemovedByPartner  = "partner" // the integration's own unsubscribe call
)

// OnRemoved registers f to run after a webhook is deleted, with why.
// Integrations use it (Zapier's reverse unsubscribe). Call it while wiring,
// before serving.
func (s *Service) OnRemoved(f func(ctx context.Context, w Webhook, why string)) {
	s.onRemoved = append(s.onRemoved, f)
}

// remove deletes a webhook and then runs every OnRemoved hook, in order, in
// the caller's goroutine: a hook that talks to the network hands that to Go.
func (s *Service) remove(ctx context.Context, w Webhook, why string) error {
	if err := s.st.delete(ctx, w); err != nil {
		return err
	}
	for _, f := range s.onRemoved {
		f(ctx, w, why)
	}
	return nil
}

// SendUnsubscribe tells a removed webhook's receiver it is gone, with a
// DELETE through the same guarded client as deliveries: REST Hooks
// partners (Zapier) pause the subscription on it. The DELETE goes only to
// the URL the webhook was created with, and only when its host is one of
// Options.UnsubscribeHosts (hooks.zapier.com): a URL edited since, or any
// other host, gets nothing, so the DELETE cannot be aimed elsewhere. Best
// effort: the outcome is logged, never returned. It returns when the
// receiver has answered or after 10 s, whichever is first; callers that
// must not wait run it with Go, so Close waits for it instead.
func (s *Service) SendUnsubscribe(ctx context.Context, w Webhook) {
	target := w.OriginURL
	if target == "" {
		target = w.URL // stored before the origin was kept; the host rule still holds
	}
	u, err := url.Parse(target)
	if err != nil || !slices.ContainsFunc(s.opts.UnsubscribeHosts, func(h string) bool { return strings.EqualFold(h, u.Hostname()) }) {
		s.opts.Log.Info("outbound: no reverse unsubscribe: not a partner's hook URL", "webhook_id", w.ID)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, target, nil)
	if err != nil {
		s.opts.Log.Warn("outbound: reverse unsubscribe", "webhook_id", w.ID, "err", err)
		return
	}
	req.Header.Set("User-Agent", "Hookline/"+s.opts.Version)
	res, err := s.client.Do(req)
	if err != nil {
		s.opts.Log.Warn("outbound: reverse unsubscribe failed", "webhook_id", w.ID, "error_class", safehttp.Classify(err))
		return
	}
	res.Body.Close()
	s.opts.Log.Info("outbound: reverse unsubscribe sent", "webhook_id", w.ID, "status", res.StatusCode)
}

// RotateSecret gives the webhook a new secret; the old one keeps signing
// beside it for RotationOverlap (24 h), so receivers can switch without
// loss. The write is conditional on the secret read, so two rotations at
// once cannot leave a secret in place that neither caller was shown.
func (s *Service) RotateSecret(ctx context.Context, p auth.Principal, id string) (Webhook, error) {
	for try := 0; try < 3; try++ {
		stored, err := s.visible(ctx, p, id)
		if err != nil {
			return Webhook{}, err
		}
		w, err := s.seal.open(stored)
		if err != nil {
			// The old secret cannot sign any more anyway: start afresh.
			w.Secret = ""
		}
		now := s.now()
		w.PrevSecret, w.PrevSecretUntil, w.Secret, w.UpdatedAt = w.Secret, now.Add(s.opts.RotationOverlap), signing.NewSecret(), now
		if w.PrevSecret == "" {
			w.PrevSecretUntil = time.Time{}
		}
		kv, err := s.st.fields(w, fieldSecret, fieldPrevSecret, "prev_secret_until", "updated_at")
		if err != nil {
			return Webhook{}, err
		}
		switch n, err := s.st.update(ctx, w.AccountID, w.ID, nil, nil, fieldSecret, stored.Secret, kv...); {
		case err != nil:
			return Webhook{}, err
		case n == updGone:
			return Webhook{}, apperr.NotFound("webhook")
		case n == updOK:
			return w, nil
		}
	}
	return Webhook{}, apperr.Conflict("the secret was rotated by another request at the same time; retry")
}

// SendTest sends the webhook a webhook.test event now, active or not. Like
// changing where the webhook delivers, it needs the read permission of
// every event type the webhook subscribes to.
func (s *Service) SendTest(ctx context.Context, p auth.Principal, id string) (Delivery, error) {
	w, err := s.visible(ctx, p, id)
	if err != nil {
		return Delivery{}, err
	}
	if _, err := s.checkEvents(ctx, p, w.Events); err != nil {
		return Delivery{}, err
	}
	return s.sendTest(ctx, w)
}

// TestEventType is the type of the event sent by SendTest and on activation.
const TestEventType = "webhook.test"

func (s *Service) sendTest(ctx context.Context, w Webhook) (Delivery, error) {
	data := fmt.Sprintf(`{"webhook_id":%q,"message":"This is a test event from Hookline."}`, w.ID)
	ev := s.deps.Events.New(w.AccountID, TestEventType, []byte(data), events.Cause{})
	if err := s.deps.Events.Record(ctx, ev); err != nil {
		return Delivery{}, err
	}
	ds, err := s.fanOut(ctx, ev, []Webhook{w}, true)
	if err != nil || len(ds) == 0 {
		return Delivery{}, err
	}
	return ds[0], nil
}

// RemoveWebhooksOfCredential deletes the webhooks created with a
// credential (of one source, any when empty), for integrations whose
// subscriptions live and die with their connection. An empty credential
// id removes nothing: it would match every webhook made without one.
func (s *Service) RemoveWebhooksOfCredential(ctx context.Context, acct string, cred auth.Credential, source string) error {
	if cred.ID == "" {
		return errors.New("outbound: remove webhooks of a credential: empty credential id")
	}
	want := cred.String()
	after := ""
	for {
		ws, next, err := s.st.list(ctx, acct, after, 200)
		if err != nil {
			return err
		}
		for _, w := range ws {
			if w.Credential == want && (source == "" || w.Source == source) {
				if err := s.remove(ctx, w, RemovedByRevoke); err != nil {
					return err
				}
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// DisabledByRevoke is the disabled reason of the webhooks turned off by
// DeactivateWebhooksOfCredential.
const DisabledByRevoke = "credential revoked"

// DeactivateWebhooksOfCredential turns off every active webhook of the
// account created with cred, of any source, with the disabled reason
// "credential revoked", and returns how many it turned off. The
// composition root calls it from the accounts revoke hook, so a leaked and
// revoked key leaves no live subscription behind; a user with the
// permissions can turn one back on. An empty credential id turns off
// nothing and is an error: it would match every webhook made without one.
func (s *Service) DeactivateWebhooksOfCredential(ctx context.Context, acct string, cred auth.Credential) (int, error) {
	if cred.ID == "" {
		return 0, errors.New("outbound: deactivate webhooks of a credential: empty credential id")
	}
	want := cred.String()
	n, after := 0, ""
	for {
		ws, next, err := s.st.list(ctx, acct, after, 200)
		if err != nil {
			return n, err
		}
		for _, w := range ws {
			if w.Credential != want || !w.Active {
				continue
			}
			now := s.now()
			ok, err := s.st.setFields(ctx, acct, w.ID, "active", boolStr(false), "disabled_reason", DisabledByRevoke,
				"disabled_at", store.MS(now), "updated_at", store.MS(now))
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
		if next == "" {
			return n, nil
		}
		after = next
	}
}
