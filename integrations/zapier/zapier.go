// Package zapier adapts Zapier's REST Hooks protocol onto the outbound
// engine: subscribe and unsubscribe create and delete webhooks of source
// "zapier", samples serve performList from the event log. It holds no
// delivery or storage logic of its own.
package zapier

import (
	"context"
	"log/slog"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/outbound"
)

// Service is the Zapier adapter.
type Service struct {
	out *outbound.Service
	log *events.Log
}

// New wires the adapter: when a Zapier subscription is removed from
// Hookline's side (a user, a revoked key), Zapier is told with a DELETE to
// its hook URL so the Zap pauses; when a key is revoked, its Zapier
// subscriptions go with it.
func New(out *outbound.Service, log *events.Log, accts *accounts.Service, lg *slog.Logger) *Service {
	s := &Service{out: out, log: log}
	out.OnRemoved(func(ctx context.Context, w outbound.Webhook, why string) {
		if w.Source != outbound.SourceZapier || why == outbound.RemovedByReceiver || why == outbound.RemovedByPartner {
			return // Zapier asked for it (410 or its own unsubscribe)
		}
		// Told in the background, so the removal (an API call, a key
		// revocation) does not wait on Zapier; out.Close waits for it at
		// shutdown. The request's context may end first: the send keeps its
		// values but not its cancellation.
		sendCtx := context.WithoutCancel(ctx)
		out.Go(func() { out.SendUnsubscribe(sendCtx, w) })
	})
	accts.OnRevoke(func(ctx context.Context, acct string, cred auth.Credential) {
		if err := out.RemoveWebhooksOfCredential(ctx, acct, cred, outbound.SourceZapier); err != nil {
			lg.Warn("zapier: remove subscriptions of revoked credential", "credential", cred.String(), "err", err)
		}
	})
	return s
}

// Samples answers Zapier's performList: the account's latest events of a
// type in the live envelope's shape (events.Log.Samples). The caller needs
// subscribe:webhook or manage:webhook, as for subscribing, and the type's
// read permission.
func (s *Service) Samples(ctx context.Context, p auth.Principal, typ string, limit int) ([]events.Event, error) {
	if !p.Has(perm.SubscribeWebhook) && !p.Has(perm.ManageWebhook) {
		return nil, apperr.Forbidden(perm.SubscribeWebhook)
	}
	return s.log.Samples(ctx, p, typ, limit)
}
