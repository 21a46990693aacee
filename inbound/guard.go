package inbound

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/customers"
	"github.com/hookline/hookline/app/events"
)

// sentState is a state of a resource that an event carried out to
// subscriptions within the loop window.
type sentState struct {
	eventID   string
	eventTime time.Time
	print     string
	receivers []receiverRef
}

type receiverRef struct{ webhookID, credential, ownerID string }

// fingerprint is a customer's data, ignoring ids, times and email case:
// two writes with equal fingerprints hold the same state.
func fingerprint(c customers.Customer) string {
	c = c.Normalized()
	return strings.Join([]string{c.Name, strings.ToLower(c.Email), c.Phone, c.Birthday, c.Notes, c.ExternalID}, "\x1f")
}

// sentStates returns the states of a customer that were fanned out to at
// least one subscription within the window, from the event log and the
// outbound engine's receivers.
func (s *Service) sentStates(ctx context.Context, acct, resource string) ([]sentState, error) {
	evs, err := s.log.ByResource(ctx, acct, resource, s.opts.Now().Add(-s.opts.Window))
	if err != nil {
		return nil, err
	}
	var out []sentState
	for _, ev := range evs {
		if ev.Type != catalog.CustomerCreated && ev.Type != catalog.CustomerUpdated {
			continue
		}
		rcv, err := s.out.Receivers(ctx, acct, ev.ID)
		if err != nil {
			return nil, err
		}
		if len(rcv) == 0 {
			continue // never left Hookline: nothing can echo it
		}
		var c customers.Customer
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			return nil, fmt.Errorf("inbound: decode %s: %w", ev.ID, err)
		}
		st := sentState{eventID: ev.ID, eventTime: ev.CreatedAt, print: fingerprint(c)}
		for _, r := range rcv {
			st.receivers = append(st.receivers, receiverRef{webhookID: r.WebhookID, credential: r.Credential, ownerID: r.OwnerID})
		}
		out = append(out, st)
	}
	return out, nil
}

// match finds a sent state equal to c.
func match(states []sentState, c customers.Customer) (sentState, bool) {
	fp := fingerprint(c)
	for i := len(states) - 1; i >= 0; i-- {
		if states[i].print == fp {
			return states[i], true
		}
	}
	return sentState{}, false
}

// tied reports whether the writer holds a subscription that received st:
// the same credential (a Zapier connection uses one key for its triggers
// and actions), or, for an inbound endpoint, a webhook of the endpoint's
// owner.
func tied(st sentState, p auth.Principal) []receiverRef {
	cred := p.Credential.String()
	var out []receiverRef
	for _, r := range st.receivers {
		if (cred != "" && r.credential == cred) || (p.Credential.Kind == auth.KindEndpoint && r.ownerID == p.UserID) {
			out = append(out, r)
		}
	}
	return out
}

// CheckWrite is the loop guard for the core's own write paths (customers,
// publishing events), which other systems may call too: a writer paused by
// the breaker cannot write there either, and a causal chain past MaxHops
// is a 508. Echo suppression stays with actions and inbound endpoints: the
// core API is the host app's authoritative write path. It satisfies
// events.WriteGuard.
func (s *Service) CheckWrite(ctx context.Context, p auth.Principal, cause events.Cause) error {
	if err := s.checkPaused(ctx, p); err != nil {
		return err
	}
	if cause.Chain == "" || cause.Hop <= s.opts.MaxHops {
		return nil
	}
	return s.hopError(cause.Chain, cause.Hop)
}

// checkPaused refuses a writer the breaker paused.
func (s *Service) checkPaused(ctx context.Context, p auth.Principal) error {
	sub := p.Credential.String()
	if sub == "" {
		return nil
	}
	inc, err := s.st.paused(ctx, p.AccountID, sub)
	if err != nil || inc == "" {
		return err
	}
	what := "this API key"
	switch p.Credential.Kind {
	case auth.KindEndpoint:
		what = "this inbound endpoint"
	case auth.KindOAuth:
		what = "this connection"
	case auth.KindSession:
		what = "this session"
	}
	return &apperr.Error{Code: apperr.CodeLoopSuspended, Message: fmt.Sprintf(
		"%s is paused: its writes kept echoing events Hookline had just sent it (a two-way sync loop, incident %s). "+
			"Fix the integration, then resume with POST /v1/incidents/%s/resolve", what, inc, inc)}
}

// suppress records a suppressed write. Tied writers open or extend the
// resource's incident, and past the threshold in the window are paused.
// Untied writers are simply deduplicated.
func (s *Service) suppress(ctx context.Context, p auth.Principal, resource string, st sentState, o Origin) error {
	acct := p.AccountID
	ties := tied(st, p)
	if len(ties) == 0 {
		return nil
	}
	now := s.opts.Now()
	inc, err := s.st.openIncident(ctx, acct, resource, o.Chain, p.Credential, now)
	if err != nil {
		return err
	}
	var refs []string
	refs = append(refs, st.eventID)
	for _, r := range ties {
		refs = append(refs, "dlv:"+s.deliveryID(st, r.webhookID))
	}
	count, err := s.st.recordSuppression(ctx, acct, resource, inc, refs, now, s.opts.Window)
	if err != nil {
		return err
	}
	if count >= int64(s.opts.Threshold) && !o.Unverified {
		if sub := p.Credential.String(); sub != "" {
			if err := s.st.pause(ctx, acct, sub, inc); err != nil {
				return err
			}
			s.opts.Log.Warn("inbound: loop breaker paused a writer", "account_id", acct, "subject", sub, "incident_id", inc, "resource", resource)
		}
	}
	return nil
}
