package outbound

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
// DELETE to its URL through the same guarded client as deliveries: REST
// Hooks partners (Zapier) pause the subscription on it. Best effort: the
// outcome is logged, never returned. It returns when the receiver has
// answered or after 10 s, whichever is first; callers that must not wait
// run it with Go, so Close waits for it instead.
func (s *Service) SendUnsubscribe(ctx context.Context, w Webhook) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, w.URL, nil)
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
// beside it for RotationOverlap (24 h), so receivers can switch without loss.
func (s *Service) RotateSecret(ctx context.Context, p auth.Principal, id string) (Webhook, error) {
	w, err := s.Webhook(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	now := s.now()
	w.PrevSecret, w.PrevSecretUntil, w.Secret, w.UpdatedAt = w.Secret, now.Add(s.opts.RotationOverlap), signing.NewSecret(), now
	ok, err := s.st.setFields(ctx, w.AccountID, w.ID, "secret", w.Secret, "prev_secret", w.PrevSecret,
		"prev_secret_until", store.MS(w.PrevSecretUntil), "updated_at", store.MS(now))
	if err != nil {
		return Webhook{}, err
	}
	if !ok {
		return Webhook{}, apperr.NotFound("webhook")
	}
	return w, nil
}

// SendTest sends the webhook a webhook.test event now, active or not.
func (s *Service) SendTest(ctx context.Context, p auth.Principal, id string) (Delivery, error) {
	w, err := s.Webhook(ctx, p, id)
	if err != nil {
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
