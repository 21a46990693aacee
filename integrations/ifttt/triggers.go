package ifttt

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/perm"
)

// Trigger slugs.
const (
	TriggerNewCustomer     = "new_customer"
	TriggerUpdatedCustomer = "updated_customer"
	TriggerNewEvent        = "new_event"
	fieldEventType         = "event_type"
	defaultLimit           = 50
	maxLimit               = 200
)

// TriggerRequest is a trigger poll.
type TriggerRequest struct {
	Identity string
	Fields   map[string]string
	Limit    int // already defaulted (50) and capped; 0 is honoured
}

// Item is one trigger item: its ingredients and meta.
type Item map[string]any

// topicOf returns the event type a trigger reads and its identity topic.
func topicOf(slug string, fields map[string]string) (typ, topic string, err error) {
	switch slug {
	case TriggerNewCustomer:
		return catalog.CustomerCreated, slug, nil
	case TriggerUpdatedCustomer:
		return catalog.CustomerUpdated, slug, nil
	case TriggerNewEvent:
		t := fields[fieldEventType]
		if t == "" {
			return "", "", apperr.BadRequest("missing trigger field: event_type")
		}
		return t, slug + ":" + t, nil
	}
	return "", "", apperr.NotFound("trigger")
}

// canSubscribe is the rule IFTTT triggers share with every subscription
// surface: subscribe:webhook (or manage:webhook), plus, checked by the
// event log, the type's read permission.
func canSubscribe(p auth.Principal) error {
	if !p.Has(perm.SubscribeWebhook) && !p.Has(perm.ManageWebhook) {
		return apperr.Forbidden(perm.SubscribeWebhook)
	}
	return nil
}

// Poll answers a trigger: the account's latest events of its type that p
// may read, newest first, as items; and registers the trigger identity
// (identity → user, connection, trigger, fields) so later events notify
// IFTTT in real time.
func (s *Service) Poll(ctx context.Context, p auth.Principal, slug string, r TriggerRequest) ([]Item, error) {
	typ, topic, err := topicOf(slug, r.Fields)
	if err != nil {
		return nil, err
	}
	if err := canSubscribe(p); err != nil {
		return nil, err
	}
	if _, err := s.readable(ctx, p, typ); err != nil {
		return nil, err
	}
	if r.Identity != "" && p.Credential.Kind == auth.KindOAuth {
		if err := s.register(ctx, p, slug, topic, r); err != nil {
			return nil, err
		}
	}
	if r.Limit == 0 {
		return []Item{}, nil
	}
	evs, _, err := s.d.Events.List(ctx, p, typ, "", r.Limit)
	if err != nil {
		return nil, err
	}
	items := make([]Item, 0, len(evs))
	for _, ev := range evs {
		items = append(items, itemOf(slug, ev))
	}
	return items, nil
}

// readable checks that p may read events of typ; an unknown type is a 400
// naming the field (IFTTT shows it to the user).
func (s *Service) readable(ctx context.Context, p auth.Principal, typ string) (catalog.EventType, error) {
	t, err := s.d.Catalog.Get(ctx, p.AccountID, typ)
	if apperr.IsCode(err, apperr.CodeNotFound) || apperr.IsCode(err, apperr.CodeValidation) {
		return catalog.EventType{}, apperr.BadRequest("event_type: " + typ + " is not an event type of this account")
	}
	if err != nil {
		return catalog.EventType{}, err
	}
	return t, p.Require(t.Permission)
}

func (s *Service) register(ctx context.Context, p auth.Principal, slug, topic string, r TriggerRequest) error {
	if len(r.Identity) > 200 {
		return apperr.BadRequest("trigger_identity is too long")
	}
	cur, ok, err := s.st.identity(ctx, p.AccountID, r.Identity)
	if err != nil {
		return err
	}
	if ok && cur.ConnID == p.Credential.ID && cur.Topic == topic && cur.UserID == p.UserID {
		return nil
	}
	if ok {
		// The Applet changed (new fields) or moved to another connection.
		if err := s.st.removeIdentities(ctx, p.AccountID, []string{r.Identity}); err != nil {
			return err
		}
	}
	return s.st.registerIdentity(ctx, p.AccountID, Identity{
		ID: r.Identity, UserID: p.UserID, ConnID: p.Credential.ID, Trigger: slug, Topic: topic,
		Fields: r.Fields, CreatedAt: s.now(),
	})
}

// ForgetIdentity removes a trigger identity (IFTTT's DELETE when an
// Applet is turned off). An unknown identity is not an error: IFTTT may
// delete identities it never polled.
func (s *Service) ForgetIdentity(ctx context.Context, slug, id string) error {
	acct, err := s.st.identityAccount(ctx, id)
	if err != nil || acct == "" {
		return err
	}
	got, ok, err := s.st.identity(ctx, acct, id)
	if err != nil || !ok || got.Trigger != slug {
		return err
	}
	return s.st.removeIdentities(ctx, acct, []string{id})
}

// itemOf renders one event as a trigger item. meta.id is the event id, so
// each item's id is unique and IFTTT deduplicates replays.
func itemOf(slug string, ev events.Event) Item {
	meta := map[string]any{"id": ev.ID, "timestamp": ev.CreatedAt.Unix()}
	if slug == TriggerNewEvent {
		return Item{
			"event_id": ev.ID, "event_type": ev.Type, "created_at": ev.CreatedAt.UTC().Format(time.RFC3339),
			"data_json": string(ev.Data), "meta": meta,
		}
	}
	var c struct {
		ID, Name, Email, Phone string
		CreatedAt              time.Time `json:"created_at"`
	}
	_ = json.Unmarshal(ev.Data, &c)
	return Item{
		"id": c.ID, "name": c.Name, "email": c.Email, "phone": c.Phone,
		"created_at": c.CreatedAt.UTC().Format(time.RFC3339), "meta": meta,
	}
}

// Option is one dynamic option of a field.
type Option struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// EventTypeOptions lists the catalog's event types p may read, by name.
func (s *Service) EventTypeOptions(ctx context.Context, p auth.Principal) ([]Option, error) {
	if err := canSubscribe(p); err != nil {
		return nil, err
	}
	out := []Option{}
	after := ""
	for range 20 { // at most 20 pages of 200 types
		page, next, err := s.d.Catalog.List(ctx, p.AccountID, after, maxLimit)
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			if p.Has(t.Permission) {
				label := t.Name
				if t.Description != "" {
					label += " — " + t.Description
				}
				out = append(out, Option{Label: label, Value: t.Name})
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out, nil
}

// Validation is a field validation's answer.
type Validation struct {
	Valid   bool   `json:"valid"`
	Message string `json:"message,omitempty"`
}

// ValidateEventType says whether value is an event type p may read.
func (s *Service) ValidateEventType(ctx context.Context, p auth.Principal, value string) (Validation, error) {
	if err := canSubscribe(p); err != nil {
		return Validation{}, err
	}
	if value == "" {
		return Validation{Message: "Choose an event type."}, nil
	}
	_, err := s.readable(ctx, p, value)
	switch {
	case err == nil:
		return Validation{Valid: true}, nil
	case apperr.IsCode(err, apperr.CodeBadRequest):
		return Validation{Message: value + " is not an event type of this account."}, nil
	case apperr.IsCode(err, apperr.CodeForbidden):
		return Validation{Message: "You may not read " + value + " events."}, nil
	}
	return Validation{}, err
}
