package outbound

import (
	"context"
	"fmt"

	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/ids"
)

// Emit fans an event out to the account's active webhooks subscribed to its
// type whose owners may still read it: one delivery per (event, webhook),
// written first, then its task. A repeated Emit of the same event finds the
// deliveries it made and enqueues nothing twice. It satisfies events.Emitter.
//
// The owner's principal is built by accounts, as for every other caller,
// at most once per owner per event (and reused for OwnerCacheTTL): a closed
// account or a removed user means the event is not delivered; any other
// error is returned, so the event log's outbox hands the event on again
// rather than losing it.
func (s *Service) Emit(ctx context.Context, ev events.Event) error {
	subs, err := s.st.subscribers(ctx, ev.AccountID, ev.Type)
	if err != nil || len(subs) == 0 {
		return err
	}
	t, err := s.deps.Catalog.Get(ctx, ev.AccountID, ev.Type)
	if err != nil {
		return fmt.Errorf("outbound: type of %s: %w", ev.ID, err)
	}
	owners := map[string]bool{}
	active := subs[:0]
	for _, w := range subs {
		if !w.Active {
			continue
		}
		may, seen := owners[w.OwnerID]
		if !seen {
			// The permissions are the owner's own (no limit): a webhook
			// delivers under its owner, whatever credential created it.
			p, active, err := s.owner(ctx, w)
			if err != nil {
				return err
			}
			may = active && p.Has(t.Permission)
			owners[w.OwnerID] = may
		}
		if !may {
			s.opts.Log.Warn("outbound: owner may no longer read the event; not delivered",
				"webhook_id", w.ID, "event_id", ev.ID, "permission", t.Permission)
			continue
		}
		active = append(active, w)
	}
	_, err = s.fanOut(ctx, ev, active, false)
	return err
}

func (s *Service) fanOut(ctx context.Context, ev events.Event, ws []Webhook, test bool) ([]Delivery, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	now := s.now()
	ds := make([]Delivery, len(ws))
	for i, w := range ws {
		ds[i] = Delivery{
			ID: DeliveryID(ev.ID, w.ID, ev.CreatedAt), AccountID: ev.AccountID, WebhookID: w.ID,
			EventID: ev.ID, EventType: ev.Type, URL: w.URL, Status: StatusPending,
			CreatedAt: now, NextAttemptAt: now, Gen: 1, Test: test,
		}
	}
	floor := ids.Floor(ids.Delivery, now.Add(-s.opts.Retention))
	created, err := s.st.createDeliveries(ctx, ds, ws, s.opts.Retention, s.opts.MaxPerWebhook, floor)
	if err != nil {
		return nil, err
	}
	fresh := make([]Delivery, 0, len(ds))
	for i, d := range ds {
		// One made by an earlier fan-out of this event has its task, or the
		// reconciler restores it.
		if created[i] {
			fresh = append(fresh, d)
		}
	}
	if err := s.enqueueFirst(ctx, fresh); err != nil {
		return nil, err
	}
	return ds, nil
}

// Receiver is a subscription an event was fanned out to, as the loop guard
// needs it: which credential created the webhook and which user owns it.
// It outlives the webhook (a 410 deletes the webhook, not this).
type Receiver struct {
	WebhookID  string
	Credential string // auth.Credential.String of the creator, "" when none
	OwnerID    string
}

// Receivers returns the subscriptions an event was fanned out to.
func (s *Service) Receivers(ctx context.Context, acct, eventID string) ([]Receiver, error) {
	return s.st.receivers(ctx, acct, eventID)
}
