package outbound

import (
	"context"
	"sort"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/perm"
)

// MaxBulkRedeliver bounds RedeliverMatching: at most this many deliveries
// are redelivered by one call.
const MaxBulkRedeliver = 1000

// LatestDeliveries returns the newest delivery of each of ws, keyed by
// webhook id, in two Redis round trips whatever the number of webhooks.
// Webhooks p may not see (another user's without manage:webhook, another
// account's) and webhooks without deliveries are absent. Like Deliveries,
// it shows no payload, so it needs no event read permission.
func (s *Service) LatestDeliveries(ctx context.Context, p auth.Principal, ws []Webhook) (map[string]Delivery, error) {
	if err := requireWebhookPerm(p); err != nil {
		return nil, err
	}
	idList := make([]string, 0, len(ws))
	for _, w := range ws {
		if w.AccountID == p.AccountID && w.visibleTo(p) {
			idList = append(idList, w.ID)
		}
	}
	return s.st.latest(ctx, p.AccountID, idList)
}

// EventDeliveries returns the deliveries an event caused that p may see,
// ordered by webhook id: those to p's own webhooks, or to any of the
// account's with manage:webhook, including webhooks deleted since. An
// event p may not read (its type's read permission) or that is absent or
// past retention is not found, as events.Log.Event reports it.
func (s *Service) EventDeliveries(ctx context.Context, p auth.Principal, eventID string) ([]Delivery, error) {
	if err := requireWebhookPerm(p); err != nil {
		return nil, err
	}
	ev, err := s.deps.Events.Event(ctx, p, eventID)
	if err != nil {
		return nil, err
	}
	rs, err := s.st.receivers(ctx, p.AccountID, ev.ID)
	if err != nil {
		return nil, err
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].WebhookID < rs[j].WebhookID })
	var idList []string
	for _, r := range rs {
		if r.OwnerID == p.UserID || p.Has(perm.ManageWebhook) {
			idList = append(idList, DeliveryID(ev.ID, r.WebhookID, ev.CreatedAt))
		}
	}
	return s.st.deliveriesByID(ctx, p.AccountID, idList)
}

// BulkRedelivery says which of a webhook's deliveries RedeliverMatching
// takes: made at or after Since, with Status (failed when empty; pending
// is refused) and, when set, of EventType. DryRun only counts them.
type BulkRedelivery struct {
	Since     time.Time `json:"since"`
	Status    string    `json:"status"`
	EventType string    `json:"event_type"`
	DryRun    bool      `json:"dry_run"`
}

// BulkResult is what RedeliverMatching did: Matched deliveries matched (at
// most MaxBulkRedeliver; More when others were left out), Redelivered of
// them were scheduled again now, Skipped could not be (their event is past
// retention, or they changed meanwhile). A dry run redelivers nothing.
type BulkResult struct {
	Matched, Redelivered, Skipped int
	More, DryRun                  bool
}

// RedeliverMatching redelivers, as Redeliver does one by one, every
// delivery of a webhook that in selects, newest first, at most
// MaxBulkRedeliver of them. p needs what Redeliver needs: the webhook
// visible to p (else not found) and the read permission of every type it
// subscribes to (403 naming it, for a dry run too); deliveries of types p
// may not read are not matched.
func (s *Service) RedeliverMatching(ctx context.Context, p auth.Principal, whk string, in BulkRedelivery) (BulkResult, error) {
	w, err := s.visible(ctx, p, whk)
	if err != nil {
		return BulkResult{}, err
	}
	if in.Status == "" {
		in.Status = StatusFailed
	}
	var bad []apperr.FieldError
	if in.Since.IsZero() {
		bad = append(bad, apperr.FieldError{Field: "since", Message: "is required: the time from which deliveries are redelivered"})
	}
	switch in.Status {
	case StatusFailed, StatusDelivered, StatusSuppressed:
	default:
		bad = append(bad, apperr.FieldError{Field: "status", Message: "must be one of: failed, delivered, suppressed"})
	}
	if len(bad) > 0 {
		return BulkResult{}, apperr.Invalid(bad...)
	}
	if _, err := s.checkEvents(ctx, p, w.Events); err != nil {
		return BulkResult{}, err
	}
	readable := map[string]bool{}
	var readErr error
	keep := func(d Delivery) bool {
		if d.Status != in.Status || in.EventType != "" && d.EventType != in.EventType || readErr != nil {
			return false
		}
		may, seen := readable[d.EventType]
		if !seen {
			may, readErr = s.mayRead(ctx, p, p.AccountID, d.EventType)
			readable[d.EventType] = may
		}
		return may
	}
	ds, more, err := s.st.since(ctx, p.AccountID, whk, in.Since, MaxBulkRedeliver, keep)
	if err == nil {
		err = readErr
	}
	if err != nil {
		return BulkResult{}, err
	}
	res := BulkResult{Matched: len(ds), More: more, DryRun: in.DryRun}
	if in.DryRun {
		return res, nil
	}
	for _, d := range ds {
		_, err := s.Redeliver(ctx, p, d.ID)
		switch {
		case err == nil:
			res.Redelivered++
		case apperr.IsCode(err, apperr.CodeConflict), apperr.IsCode(err, apperr.CodeNotFound):
			res.Skipped++ // past retention, expired, or moved on since it was read
		default:
			return res, err
		}
	}
	return res, nil
}
