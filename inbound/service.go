package inbound

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/customers"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/outbound"
)

// Options tune the guard; zero values mean the defaults.
type Options struct {
	// MaxHops bounds a causal chain; a write past it is a 508. Zero means 3.
	MaxHops int
	// Window is how long sent states are remembered. Zero means 10 minutes.
	Window time.Duration
	// Threshold is how many suppressed writes of one resource in the window
	// pause the writer. Zero means 3.
	Threshold int
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Service runs actions under permission checks and the loop guard.
type Service struct {
	st        *loopStore
	customers *customers.Service
	log       *events.Log
	out       *outbound.Service
	opts      Options
}

// New returns the inbound service.
func New(rdb redis.UniversalClient, keys store.Keys, cs *customers.Service, log *events.Log, out *outbound.Service, opts Options) *Service {
	if opts.MaxHops == 0 {
		opts.MaxHops = 3
	}
	if opts.Window == 0 {
		opts.Window = 10 * time.Minute
	}
	if opts.Threshold == 0 {
		opts.Threshold = 3
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Service{st: &loopStore{rdb: rdb, keys: keys}, customers: cs, log: log, out: out, opts: opts}
}

func (s *Service) deliveryID(st sentState, webhookID string) string {
	return outbound.DeliveryID(st.eventID, webhookID, st.eventTime)
}

// Field describes one input of an action.
type Field struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	Help     string `json:"help"`
}

// Action describes one action of the catalog.
type Action struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Permission  string  `json:"permission"`
	Fields      []Field `json:"input_fields"`
}

var customerFields = []Field{
	{Name: "name", Type: "string", Help: "Full name."},
	{Name: "email", Type: "string", Help: "Email address; unique per account, ignoring case."},
	{Name: "phone", Type: "string", Help: "Phone number."},
	{Name: "birthday", Type: "string", Help: "Date of birth, YYYY-MM-DD."},
	{Name: "notes", Type: "string", Help: "Free notes."},
	{Name: "external_id", Type: "string", Help: "The customer's id in the other system."},
}

func withRequired(fs []Field, required ...string) []Field {
	out := append([]Field(nil), fs...)
	for i := range out {
		for _, r := range required {
			if out[i].Name == r {
				out[i].Required = true
			}
		}
	}
	return out
}

var idField = Field{Name: "id", Type: "string", Help: "The customer's id (cus_…); or give email to find the customer."}

// Actions is the catalog, in a stable order.
var Actions = []Action{
	{Name: "create_customer", Description: "Create a customer. An echo of a customer Hookline just sent answers 200 with echo: true and changes nothing.", Permission: perm.CreateCustomer, Fields: withRequired(customerFields, "name", "email")},
	{Name: "update_customer", Description: "Change a customer found by id or email; fields left out stay as they are.", Permission: perm.UpdateCustomer, Fields: append([]Field{idField}, customerFields...)},
	{Name: "upsert_customer", Description: "Update the customer with this email, or create one (201; creating also needs create:customer).", Permission: perm.UpdateCustomer, Fields: withRequired(customerFields, "email")},
	{Name: "find_customer", Description: "Find customers by email: {\"data\": [...]}, empty when none.", Permission: perm.ReadCustomer, Fields: []Field{{Name: "email", Type: "string", Required: true, Help: "Email address, any case."}}},
	{Name: "delete_customer", Description: "Delete a customer found by id or email.", Permission: perm.DeleteCustomer, Fields: []Field{idField, {Name: "email", Type: "string", Help: "Email address."}}},
	{Name: "publish_event", Description: "Publish an event of one of the account's own types.", Permission: perm.PublishEvent, Fields: []Field{{Name: "type", Type: "string", Required: true, Help: "An event type from the catalog (noun.verb)."}, {Name: "data", Type: "object", Required: true, Help: "The event's data, a JSON object."}}},
}

func findAction(name string) (Action, bool) {
	for _, a := range Actions {
		if a.Name == name {
			return a, true
		}
	}
	return Action{}, false
}

// Run runs an action for p. The caller needs the action's permission (a
// 403 names it); a writer paused by the loop breaker is refused; a write
// carrying a causal chain past MaxHops is a 508; echoes and flip-flops of
// states Hookline just sent out are suppressed.
func (s *Service) Run(ctx context.Context, p auth.Principal, action string, input map[string]any, o Origin) (Result, error) {
	a, ok := findAction(action)
	if !ok {
		return Result{}, apperr.NotFound("action")
	}
	if err := p.Require(a.Permission); err != nil {
		return Result{}, err
	}
	if a.Name != "find_customer" {
		if err := s.checkPaused(ctx, p); err != nil {
			return Result{}, err
		}
	}
	if err := s.checkHops(o); err != nil {
		return Result{}, err
	}
	cause := events.Cause{Credential: p.Credential.String()}
	if o.HasChain {
		cause.Chain, cause.Hop = o.Chain, o.Hop+1
	}
	raw, _ := json.Marshal(input)
	switch a.Name {
	case "create_customer":
		var in customers.NewCustomer
		if err := decodeInput(raw, &in); err != nil {
			return Result{}, err
		}
		return s.createCustomer(ctx, p, in, o, cause)
	case "update_customer", "upsert_customer":
		var in updateInput
		if err := decodeInput(raw, &in); err != nil {
			return Result{}, err
		}
		return s.updateCustomer(ctx, p, in, a.Name == "upsert_customer", o, cause)
	case "find_customer":
		var in struct {
			Email string `json:"email" validate:"required,max=254"`
		}
		if err := decodeInput(raw, &in); err != nil {
			return Result{}, err
		}
		cs, _, err := s.customers.List(ctx, p, in.Email, "", 1)
		if err != nil {
			return Result{}, err
		}
		return jsonResult(200, httpapi.NewPage(cs, ""), "", false)
	case "delete_customer":
		var in struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		}
		if err := decodeInput(raw, &in); err != nil {
			return Result{}, err
		}
		if in.ID == "" && in.Email == "" {
			return Result{}, apperr.InvalidField("id", "give id or email")
		}
		c, err := s.customers.Lookup(ctx, p.AccountID, in.ID, in.Email)
		if err != nil {
			return Result{}, err
		}
		c, err = s.customers.Delete(ctx, p, c.ID, cause)
		if err != nil {
			return Result{}, err
		}
		return jsonResult(200, actionCustomer{Customer: c}, c.ID, false)
	case "publish_event":
		var in struct {
			Type string          `json:"type" validate:"required,max=81"`
			Data json.RawMessage `json:"data" validate:"required"`
		}
		if err := decodeInput(raw, &in); err != nil {
			return Result{}, err
		}
		ev, err := s.log.Publish(ctx, p, in.Type, in.Data, cause)
		if err != nil {
			return Result{}, err
		}
		return jsonResult(202, struct {
			ID        string    `json:"id"`
			Type      string    `json:"type"`
			CreatedAt time.Time `json:"created_at"`
		}{ev.ID, ev.Type, ev.CreatedAt}, "", false)
	}
	return Result{}, apperr.NotFound("action")
}

// checkHops refuses a write that would be past MaxHops in its chain.
func (s *Service) checkHops(o Origin) error {
	if !o.HasChain || o.Hop+1 <= s.opts.MaxHops {
		return nil
	}
	return s.hopError(o.Chain, o.Hop+1)
}

func (s *Service) hopError(chain string, hop int) error {
	return &apperr.Error{Code: apperr.CodeLoopDetected, Message: fmt.Sprintf(
		"this write is hop %d of causal chain %s, past the limit of %d: two integrations are feeding each other's events back",
		hop, chain, s.opts.MaxHops)}
}

// actionCustomer is a customer as actions answer it: echo says whether the
// write was suppressed.
type actionCustomer struct {
	customers.Customer
	Echo bool `json:"echo"`
}

func jsonResult(status int, v any, resource string, echo bool) (Result, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Result{}, fmt.Errorf("inbound: encode result: %w", err)
	}
	return Result{Status: status, Body: b, ResourceID: resource, Echo: echo}, nil
}

// decodeInput decodes an action's input strictly (unknown fields are named
// in a 422) and validates it.
func decodeInput(raw []byte, v any) error {
	return httpapi.DecodeBytes(raw, v)
}

func (s *Service) createCustomer(ctx context.Context, p auth.Principal, in customers.NewCustomer, o Origin, cause events.Cause) (Result, error) {
	existing, err := s.customers.Lookup(ctx, p.AccountID, "", strings.TrimSpace(in.Email))
	switch {
	case err == nil:
		// The email exists. If its state just went out to subscriptions, a
		// create coming back is an echo (the other side creating "its"
		// copy back): nothing changes.
		states, err := s.sentStates(ctx, p.AccountID, existing.ID)
		if err != nil {
			return Result{}, err
		}
		if len(states) > 0 {
			if err := s.suppress(ctx, p, existing.ID, states[len(states)-1], o); err != nil {
				return Result{}, err
			}
			return jsonResult(200, actionCustomer{Customer: existing, Echo: true}, existing.ID, true)
		}
		return Result{}, apperr.InvalidField("email", "another customer already has this email")
	case !apperr.IsCode(err, apperr.CodeNotFound):
		return Result{}, err
	}
	c, err := s.customers.Create(ctx, p, in, cause)
	if err != nil {
		return Result{}, err
	}
	return jsonResult(201, actionCustomer{Customer: c}, c.ID, false)
}

// updateInput is update_customer's and upsert_customer's input: id (or
// email) finds the customer, the other fields change it.
type updateInput struct {
	ID string `json:"id"`
	customers.Patch
}

func (s *Service) updateCustomer(ctx context.Context, p auth.Principal, in updateInput, upsert bool, o Origin, cause events.Cause) (Result, error) {
	email := ""
	if in.Email != nil {
		email = strings.TrimSpace(*in.Email)
	}
	if in.ID == "" && email == "" {
		if upsert {
			return Result{}, apperr.InvalidField("email", "is required")
		}
		return Result{}, apperr.InvalidField("id", "give id or email")
	}
	lookupEmail := email
	if in.ID != "" {
		lookupEmail = ""
	}
	cur, err := s.customers.Lookup(ctx, p.AccountID, in.ID, lookupEmail)
	if apperr.IsCode(err, apperr.CodeNotFound) && upsert {
		if err := p.Require(perm.CreateCustomer); err != nil {
			return Result{}, err
		}
		nc := customers.NewCustomer{Email: email}
		apply := in.Patch.Apply(customers.Customer{Email: email})
		nc.Name, nc.Phone, nc.Birthday, nc.Notes, nc.ExternalID = apply.Name, apply.Phone, apply.Birthday, apply.Notes, apply.ExternalID
		return s.createCustomer(ctx, p, nc, o, cause)
	}
	if err != nil {
		return Result{}, err
	}
	next := in.Patch.Apply(cur).Normalized()
	states, err := s.sentStates(ctx, p.AccountID, cur.ID)
	if err != nil {
		return Result{}, err
	}
	if st, ok := match(states, next); ok {
		// The write reproduces a state Hookline just sent out. The same data
		// coming back (an echo) changes nothing, whoever sends it. A field
		// flipping back to an older sent state (a flip-flop) is suppressed
		// when the writer received that state; from anyone else it is a
		// real change and applies.
		echo := customers.SameFields(next, cur)
		if echo || len(tied(st, p)) > 0 {
			if err := s.suppress(ctx, p, cur.ID, st, o); err != nil {
				return Result{}, err
			}
			return jsonResult(200, actionCustomer{Customer: cur, Echo: true}, cur.ID, true)
		}
	}
	c, _, err := s.customers.Update(ctx, p, cur.ID, in.Patch, cause)
	if err != nil {
		return Result{}, err
	}
	return jsonResult(200, actionCustomer{Customer: c}, c.ID, false)
}
