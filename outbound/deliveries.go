package outbound

import (
	"context"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/perm"
)

// Deliveries lists a webhook's deliveries newest first, optionally only
// those with a status or event type. The list carries no payloads, so it
// needs no event read permission (Delivery does).
func (s *Service) Deliveries(ctx context.Context, p auth.Principal, whk, status, eventType, after string, limit int) ([]Delivery, string, error) {
	if _, err := s.visible(ctx, p, whk); err != nil {
		return nil, "", err
	}
	switch status {
	case "", StatusPending, StatusDelivered, StatusFailed, StatusSuppressed:
	default:
		return nil, "", apperr.InvalidField("status", "must be one of: pending, delivered, failed, suppressed")
	}
	return s.st.deliveries(ctx, p.AccountID, whk, after, limit, func(d Delivery) bool {
		return (status == "" || d.Status == status) && (eventType == "" || d.EventType == eventType)
	})
}

// DeliveryDetail is a delivery with its payload and every attempt.
type DeliveryDetail struct {
	Delivery
	Payload  []byte
	Attempts []Attempt
}

// Delivery returns one delivery with its payload and attempts. Deliveries
// of another user's webhook are not found unless p holds manage:webhook,
// and so is a delivery of an event type p may not read (its read
// permission from the catalog): the log must not show data p could not
// read directly.
func (s *Service) Delivery(ctx context.Context, p auth.Principal, id string) (DeliveryDetail, error) {
	if err := requireWebhookPerm(p); err != nil {
		return DeliveryDetail{}, err
	}
	if !ids.HasPrefix(id, ids.Delivery) {
		return DeliveryDetail{}, apperr.NotFound("delivery")
	}
	d, err := s.st.delivery(ctx, p.AccountID, id)
	if err != nil {
		return DeliveryDetail{}, err
	}
	if !p.Has(perm.ManageWebhook) { // else any webhook's deliveries are visible: skip the read
		w, err := s.st.get(ctx, p.AccountID, d.WebhookID)
		if err != nil || !w.visibleTo(p) {
			return DeliveryDetail{}, apperr.NotFound("delivery")
		}
	}
	if may, err := s.mayRead(ctx, p, p.AccountID, d.EventType); err != nil {
		return DeliveryDetail{}, err
	} else if !may {
		return DeliveryDetail{}, apperr.NotFound("delivery")
	}
	atts, err := s.st.attempts(ctx, d)
	if err != nil {
		return DeliveryDetail{}, err
	}
	_, env, err := s.deps.Events.Envelope(ctx, p.AccountID, d.EventID)
	if err != nil && !apperr.IsCode(err, apperr.CodeNotFound) {
		return DeliveryDetail{}, err
	}
	return DeliveryDetail{Delivery: d, Payload: env, Attempts: atts}, nil
}

// Redeliver schedules a new attempt of a delivered or failed delivery now,
// to the webhook's current URL; it is logged like the others, with trigger
// "redeliver". If that attempt fails while the webhook's retry schedule
// still has tries left for the delivery, they follow. A pending delivery is
// a conflict: its next attempt is already coming. p needs what Delivery
// needs and, as for changing where the webhook delivers, the read
// permission of every event type the webhook subscribes to.
func (s *Service) Redeliver(ctx context.Context, p auth.Principal, id string) (Delivery, error) {
	dd, err := s.Delivery(ctx, p, id)
	if err != nil {
		return Delivery{}, err
	}
	if dd.Payload == nil {
		return Delivery{}, apperr.Conflict("the event of this delivery is past retention and cannot be sent again")
	}
	w, err := s.st.get(ctx, p.AccountID, dd.WebhookID)
	if err != nil {
		return Delivery{}, apperr.Conflict("the webhook of this delivery was deleted")
	}
	if _, err := s.checkEvents(ctx, p, w.Events); err != nil {
		return Delivery{}, err
	}
	if dd.Status == StatusPending {
		return Delivery{}, apperr.Conflict("the delivery is still pending; its next attempt is already scheduled")
	}
	d := dd.Delivery
	d.URL = w.URL // where this attempt goes; the record takes it when it is sent
	d.Gen++
	d.Status, d.NextAttemptAt = StatusPending, s.now()
	ok, err := s.st.reschedule(ctx, d, dd.Gen, d.Gen, d.NextAttemptAt)
	if err != nil {
		return Delivery{}, err
	}
	if !ok {
		return Delivery{}, apperr.Conflict("the delivery changed while being redelivered; retry")
	}
	if err := s.enqueue(ctx, d, time.Time{}, "redeliver"); err != nil {
		return Delivery{}, err
	}
	return d, nil
}
