package inbound

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/store"
)

// Incident is a detected loop on one resource.
type Incident struct {
	ID         string
	Status     string // open or resolved
	Resource   string
	Chain      string
	Credential string // the API key that kept echoing, if any
	Endpoint   string // the inbound endpoint that kept echoing, if any
	Paused     string // the writer the breaker paused, if any
	Suppressed int
	Events     []string
	Deliveries []string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ResolvedAt time.Time
}

// Pausing reports whether the incident keeps a writer paused now: it
// paused one and is still open.
func (inc Incident) Pausing() bool { return inc.Paused != "" && inc.Status == "open" }

// Message is the incident told to the account's users: which writer kept
// echoing which resource, how many writes were suppressed, and whether the
// writer stays paused until the incident is resolved.
func (inc Incident) Message() string {
	writer := "a writer"
	switch {
	case inc.Endpoint != "":
		writer = "inbound endpoint " + inc.Endpoint
	case inc.Credential != "":
		writer = "API key " + inc.Credential
	}
	msg := writer + " kept writing back states of " + inc.Resource + " that Hookline had just sent it; " +
		strconv.Itoa(inc.Suppressed) + " such writes were suppressed."
	if inc.Pausing() {
		msg += " It is paused until this incident is resolved."
	}
	return msg
}

func incidentFrom(m map[string]string, refs []string) Incident {
	n, _ := strconv.Atoi(m["suppressed"])
	inc := Incident{ID: m["id"], Status: m["status"], Resource: m["resource"], Chain: m["chain"],
		Credential: m["credential"], Endpoint: m["endpoint"], Paused: m["paused"], Suppressed: n,
		CreatedAt: store.Time(m["created_at"]), UpdatedAt: store.Time(m["updated_at"]), ResolvedAt: store.Time(m["resolved_at"]),
		Events: []string{}, Deliveries: []string{}}
	for _, r := range refs {
		if d, ok := strings.CutPrefix(r, "dlv:"); ok {
			inc.Deliveries = append(inc.Deliveries, d)
		} else {
			inc.Events = append(inc.Events, r)
		}
	}
	return inc
}

func requireIncidentPerm(p auth.Principal) error {
	if p.Has(perm.SubscribeWebhook) || p.Has(perm.ManageWebhook) {
		return nil
	}
	return apperr.Forbidden(perm.SubscribeWebhook)
}

// Incidents lists the account's incidents, newest first. The caller needs
// subscribe:webhook or manage:webhook.
func (s *Service) Incidents(ctx context.Context, p auth.Principal, after string, limit int) ([]Incident, string, error) {
	if err := requireIncidentPerm(p); err != nil {
		return nil, "", err
	}
	page, next, err := s.st.incidentPage(ctx, p.AccountID, after, limit)
	if err != nil {
		return nil, "", err
	}
	out := make([]Incident, 0, len(page))
	for _, id := range page {
		inc, err := s.st.incident(ctx, p.AccountID, id)
		if err != nil {
			return nil, "", err
		}
		out = append(out, inc)
	}
	return out, next, nil
}

// Resolve closes an incident and resumes what it paused. Resolving a
// resolved incident changes nothing. The caller needs manage:webhook, or
// subscribe:webhook as the owner of a webhook that received a state the
// incident records (403 otherwise); the writer the incident is about can
// never resolve it itself (403), whatever it holds, so a paused writer
// cannot reset its own breaker.
func (s *Service) Resolve(ctx context.Context, p auth.Principal, id string) (Incident, error) {
	if err := requireIncidentPerm(p); err != nil {
		return Incident{}, err
	}
	if !ids.HasPrefix(id, ids.Incident) {
		return Incident{}, apperr.NotFound("incident")
	}
	inc, err := s.st.incident(ctx, p.AccountID, id)
	if err != nil || inc.Status == "resolved" {
		return inc, err
	}
	if err := s.mayResolve(ctx, p, inc); err != nil {
		return Incident{}, err
	}
	if err := s.st.resolve(ctx, p.AccountID, inc, s.opts.Now()); err != nil {
		return Incident{}, err
	}
	return s.st.incident(ctx, p.AccountID, id)
}

// mayResolve applies Resolve's rule.
func (s *Service) mayResolve(ctx context.Context, p auth.Principal, inc Incident) error {
	if isWriter(p, inc) {
		return &apperr.Error{Code: apperr.CodeForbidden, Permission: perm.ManageWebhook, Message: "the writer an incident " +
			"is about cannot resolve it; another key or user with manage:webhook, or the owner of the webhook it echoed, can"}
	}
	if p.Has(perm.ManageWebhook) {
		return nil
	}
	for _, ev := range inc.Events {
		rcv, err := s.out.Receivers(ctx, p.AccountID, ev)
		if err != nil {
			return err
		}
		for _, r := range rcv {
			if r.OwnerID != "" && r.OwnerID == p.UserID {
				return nil
			}
		}
	}
	e := apperr.Forbidden(perm.ManageWebhook)
	e.Message = "resolving this incident needs manage:webhook, or owning a webhook it is tied to"
	return e
}

// isWriter reports whether p's credential is the writer inc is about (or
// the one it paused). An empty credential id matches nothing.
func isWriter(p auth.Principal, inc Incident) bool {
	c := p.Credential
	if c.ID == "" {
		return false
	}
	if inc.Paused != "" && c.String() == inc.Paused {
		return true
	}
	if c.Kind == auth.KindEndpoint {
		return c.ID == inc.Endpoint
	}
	return c.ID == inc.Credential
}
