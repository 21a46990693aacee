package inbound

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

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
	page, next, err := store.PageDesc(ctx, s.rdb, s.keys.Incidents(p.AccountID), after, limit)
	if err != nil {
		return nil, "", err
	}
	out := make([]Incident, 0, len(page))
	for _, id := range page {
		inc, err := s.incident(ctx, p.AccountID, id)
		if err != nil {
			return nil, "", err
		}
		out = append(out, inc)
	}
	return out, next, nil
}

func (s *Service) incident(ctx context.Context, acct, id string) (Incident, error) {
	pipe := s.rdb.Pipeline()
	hc := pipe.HGetAll(ctx, s.keys.Incident(acct, id))
	lc := pipe.LRange(ctx, s.keys.IncidentEvents(acct, id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return Incident{}, fmt.Errorf("inbound: load incident %s: %w", id, err)
	}
	if len(hc.Val()) == 0 {
		return Incident{}, apperr.NotFound("incident")
	}
	return incidentFrom(hc.Val(), lc.Val()), nil
}

// Resolve closes an incident and resumes what it paused. Resolving a
// resolved incident changes nothing.
func (s *Service) Resolve(ctx context.Context, p auth.Principal, id string) (Incident, error) {
	if err := requireIncidentPerm(p); err != nil {
		return Incident{}, err
	}
	if !ids.HasPrefix(id, ids.Incident) {
		return Incident{}, apperr.NotFound("incident")
	}
	inc, err := s.incident(ctx, p.AccountID, id)
	if err != nil || inc.Status == "resolved" {
		return inc, err
	}
	now := s.opts.Now()
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.keys.Incident(p.AccountID, id), "status", "resolved", "resolved_at", now.UnixMilli(), "updated_at", now.UnixMilli())
	if inc.Paused != "" {
		pipe.Del(ctx, s.keys.Paused(p.AccountID, inc.Paused))
	}
	pipe.Del(ctx, s.keys.OpenIncident(p.AccountID, inc.Resource), s.keys.Suppressions(p.AccountID, inc.Resource))
	if _, err := pipe.Exec(ctx); err != nil {
		return Incident{}, fmt.Errorf("inbound: resolve %s: %w", id, err)
	}
	return s.incident(ctx, p.AccountID, id)
}
