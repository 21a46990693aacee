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
	"github.com/hookline/hookline/app/ids"
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

// Run runs an action for p. The caller needs the action's permission (a
// 403 names it); a writer paused by the loop breaker is refused; a write
// carrying a causal chain past MaxHops is a 508; echoes and flip-flops of
// states Hookline just sent out are suppressed (Outcome.Echo).
func (s *Service) Run(ctx context.Context, p auth.Principal, action string, input map[string]any, o Origin) (Outcome, error) {
	a, ok := findAction(action)
	if !ok {
		return Outcome{}, apperr.NotFound("action")
	}
	if err := p.Require(a.Permission); err != nil {
		return Outcome{}, err
	}
	if a.Name != "find_customer" {
		if err := s.checkPaused(ctx, p); err != nil {
			return Outcome{}, err
		}
	}
	if err := s.checkHops(o); err != nil {
		return Outcome{}, err
	}
	cause := events.Cause{Credential: p.Credential.String()}
	if o.HasChain {
		cause.Chain, cause.Hop = o.Chain, o.Hop+1
	}
	out, err := s.run(ctx, p, a.Name, input, o, cause)
	if err != nil {
		return Outcome{}, err
	}
	out.Action = a.Name
	out.Readable = p.Has(perm.ReadCustomer)
	return out, nil
}

func (s *Service) run(ctx context.Context, p auth.Principal, action string, input map[string]any, o Origin, cause events.Cause) (Outcome, error) {
	raw, _ := json.Marshal(input)
	switch action {
	case "create_customer":
		var in customers.NewCustomer
		if err := decodeInput(raw, &in); err != nil {
			return Outcome{}, err
		}
		return s.createCustomer(ctx, p, in, o, cause)
	case "update_customer", "upsert_customer":
		var in updateInput
		if err := decodeInput(raw, &in); err != nil {
			return Outcome{}, err
		}
		return s.updateCustomer(ctx, p, in, action == "upsert_customer", o, cause)
	case "find_customer":
		var in struct {
			Email string `json:"email" validate:"required,max=254"`
		}
		if err := decodeInput(raw, &in); err != nil {
			return Outcome{}, err
		}
		cs, _, err := s.customers.List(ctx, p, in.Email, "", 1)
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Customers: cs}, nil
	case "delete_customer":
		var in struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		}
		if err := decodeInput(raw, &in); err != nil {
			return Outcome{}, err
		}
		if in.ID == "" && in.Email == "" {
			return Outcome{}, apperr.InvalidField("id", "give id or email")
		}
		c, err := s.customers.Lookup(ctx, p.AccountID, in.ID, in.Email)
		if err != nil {
			return Outcome{}, err
		}
		c, err = s.customers.Delete(ctx, p, c.ID, cause)
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Customer: &c}, nil
	case "publish_event":
		var in struct {
			Type string          `json:"type" validate:"required,max=81"`
			Data json.RawMessage `json:"data" validate:"required"`
		}
		if err := decodeInput(raw, &in); err != nil {
			return Outcome{}, err
		}
		ev, err := s.log.Publish(ctx, p, in.Type, in.Data, cause)
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Event: &ev}, nil
	}
	return Outcome{}, apperr.NotFound("action")
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

// decodeInput decodes an action's input strictly (unknown fields are named
// in a 422) and validates it.
func decodeInput(raw []byte, v any) error {
	return httpapi.DecodeBytes(raw, v)
}

func (s *Service) createCustomer(ctx context.Context, p auth.Principal, in customers.NewCustomer, o Origin, cause events.Cause) (Outcome, error) {
	existing, err := s.customers.Lookup(ctx, p.AccountID, "", strings.TrimSpace(in.Email))
	switch {
	case err == nil:
		// The email exists. If its state just went out to subscriptions, a
		// create coming back is an echo (the other side creating "its"
		// copy back): nothing changes.
		states, err := s.sentStates(ctx, p.AccountID, existing.ID)
		if err != nil {
			return Outcome{}, err
		}
		if len(states) > 0 {
			if err := s.suppress(ctx, p, existing.ID, states[len(states)-1], o); err != nil {
				return Outcome{}, err
			}
			return Outcome{Customer: &existing, Echo: true}, nil
		}
		// Telling whoever may not read customers that an email is taken
		// would make every create an existence probe, and an inbound
		// endpoint answers the public: they get a create's answer.
		if p.Has(perm.ReadCustomer) && p.Credential.Kind != auth.KindEndpoint {
			return Outcome{}, apperr.InvalidField("email", "another customer already has this email")
		}
		s.opts.Log.Info("inbound: create_customer of a taken email answered as a create; nothing changed",
			"account_id", p.AccountID, "credential", p.Credential.String())
		return Outcome{Taken: true, Created: true, AnswerID: ids.New(ids.Customer, s.opts.Now())}, nil
	case !apperr.IsCode(err, apperr.CodeNotFound):
		return Outcome{}, err
	}
	c, err := s.customers.Create(ctx, p, in, cause)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Customer: &c, Created: true}, nil
}

// updateInput is update_customer's and upsert_customer's input: id (or
// email) finds the customer, the other fields change it.
type updateInput struct {
	ID string `json:"id"`
	customers.Patch
}

func (s *Service) updateCustomer(ctx context.Context, p auth.Principal, in updateInput, upsert bool, o Origin, cause events.Cause) (Outcome, error) {
	email := ""
	if in.Email != nil {
		email = strings.TrimSpace(*in.Email)
	}
	if in.ID == "" && email == "" {
		if upsert {
			return Outcome{}, apperr.InvalidField("email", "is required")
		}
		return Outcome{}, apperr.InvalidField("id", "give id or email")
	}
	lookupEmail := email
	if in.ID != "" {
		lookupEmail = ""
	}
	cur, err := s.customers.Lookup(ctx, p.AccountID, in.ID, lookupEmail)
	if apperr.IsCode(err, apperr.CodeNotFound) && upsert {
		if err := p.Require(perm.CreateCustomer); err != nil {
			return Outcome{}, err
		}
		nc := customers.NewCustomer{Email: email}
		apply := in.Patch.Apply(customers.Customer{Email: email})
		nc.Name, nc.Phone, nc.Birthday, nc.Notes, nc.ExternalID = apply.Name, apply.Phone, apply.Birthday, apply.Notes, apply.ExternalID
		return s.createCustomer(ctx, p, nc, o, cause)
	}
	if err != nil {
		return Outcome{}, err
	}
	next := in.Patch.Apply(cur).Normalized()
	states, err := s.sentStates(ctx, p.AccountID, cur.ID)
	if err != nil {
		return Outcome{}, err
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
				return Outcome{}, err
			}
			return Outcome{Customer: &cur, Echo: true}, nil
		}
	}
	taken, err := s.emailTaken(ctx, p, cur, next)
	if err != nil {
		return Outcome{}, err
	}
	if taken {
		return Outcome{Taken: true, AnswerID: cur.ID}, nil
	}
	c, _, err := s.customers.Update(ctx, p, cur.ID, in.Patch, cause)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Customer: &c}, nil
}

// emailTaken reports whether an update moving cur to next's email must be
// answered as Taken: the email is another customer's and p may not be told
// so (see createCustomer). Whoever may be told gets the store's 422.
func (s *Service) emailTaken(ctx context.Context, p auth.Principal, cur, next customers.Customer) (bool, error) {
	if strings.EqualFold(cur.Email, next.Email) || (p.Has(perm.ReadCustomer) && p.Credential.Kind != auth.KindEndpoint) {
		return false, nil
	}
	other, err := s.customers.Lookup(ctx, p.AccountID, "", next.Email)
	switch {
	case apperr.IsCode(err, apperr.CodeNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return other.ID != cur.ID, nil
}
