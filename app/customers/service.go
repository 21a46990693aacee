package customers

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/app/validate"
)

// Service manages customers and emits their events.
type Service struct {
	st  *customerStore
	log *events.Log
	now func() time.Time
}

// New returns a Service that emits through log; now nil means time.Now.
func New(rdb redis.UniversalClient, keys store.Keys, log *events.Log, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: &customerStore{rdb: rdb, keys: keys}, log: log, now: now}
}

func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func normalize(c *Customer) {
	c.Name = strings.TrimSpace(c.Name)
	c.Email = strings.TrimSpace(c.Email)
	c.Phone = strings.TrimSpace(c.Phone)
	c.Birthday = strings.TrimSpace(c.Birthday)
	c.ExternalID = strings.TrimSpace(c.ExternalID)
}

// write runs one write queued by queue and records its event typ about c
// in the same transaction (events.Log.EmitWith), then returns the write's
// reply for its *Result to read.
func (s *Service) write(ctx context.Context, acct, typ string, c Customer, cause events.Cause,
	queue func(p redis.Pipeliner, m events.Mark) *redis.Cmd) (*redis.Cmd, error) {
	cause.Resource = c.ID
	var cmd *redis.Cmd
	_, err := s.log.EmitWith(ctx, s.log.New(acct, typ, c.JSON(), cause), func(p redis.Pipeliner, m events.Mark) {
		cmd = queue(p, m)
	})
	return cmd, err
}

// Create adds a customer and emits customer.created. The caller needs
// create:customer. An email already used in the account (ignoring case) is a
// 422 on the email field; of concurrent creates with one email, one wins.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewCustomer, cause events.Cause) (Customer, error) {
	if err := p.Require(perm.CreateCustomer); err != nil {
		return Customer{}, err
	}
	cause, err := s.guard(ctx, p, cause)
	if err != nil {
		return Customer{}, err
	}
	c := Customer{Name: in.Name, Email: in.Email, Phone: in.Phone, Birthday: in.Birthday, Notes: in.Notes, ExternalID: in.ExternalID}
	normalize(&c)
	in = c.input()
	if err := validate.Struct(&in); err != nil {
		return Customer{}, err
	}
	now := s.stamp()
	c.ID, c.CreatedAt, c.UpdatedAt, c.version = ids.New(ids.Customer, now), now, now, 1
	cmd, err := s.write(ctx, p.AccountID, catalog.CustomerCreated, c, cause, func(pipe redis.Pipeliner, m events.Mark) *redis.Cmd {
		return s.st.queueCreate(ctx, pipe, p.AccountID, c, m)
	})
	if err != nil {
		return Customer{}, err
	}
	taken, err := createResult(cmd)
	if err != nil {
		return Customer{}, err
	}
	if taken != "" {
		return Customer{}, apperr.InvalidField("email", "another customer already has this email")
	}
	return c, nil
}

// Get returns one of the account's customers; the caller needs read:customer.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Customer, error) {
	if err := p.Require(perm.ReadCustomer); err != nil {
		return Customer{}, err
	}
	if !ids.HasPrefix(id, ids.Customer) {
		return Customer{}, apperr.NotFound("customer")
	}
	return s.st.get(ctx, p.AccountID, id)
}

// FindByEmail returns the customer with the email (ignoring case), or not found.
func (s *Service) FindByEmail(ctx context.Context, p auth.Principal, email string) (Customer, error) {
	if err := p.Require(perm.ReadCustomer); err != nil {
		return Customer{}, err
	}
	id, err := s.st.idByEmail(ctx, p.AccountID, email)
	if err != nil {
		return Customer{}, err
	}
	if id == "" {
		return Customer{}, apperr.NotFound("customer")
	}
	return s.st.get(ctx, p.AccountID, id)
}

// Lookup returns a customer by id, or by email when id is empty, without a
// permission check: for services that have already checked the caller's
// permission for what they do with it (inbound actions).
func (s *Service) Lookup(ctx context.Context, acct, id, email string) (Customer, error) {
	if id == "" {
		var err error
		if id, err = s.st.idByEmail(ctx, acct, email); err != nil {
			return Customer{}, err
		}
		if id == "" {
			return Customer{}, apperr.NotFound("customer")
		}
	}
	if !ids.HasPrefix(id, ids.Customer) {
		return Customer{}, apperr.NotFound("customer")
	}
	return s.st.get(ctx, acct, id)
}

// List returns the account's customers newest first, or the one customer
// with the given email when email is not empty.
func (s *Service) List(ctx context.Context, p auth.Principal, email, after string, limit int) ([]Customer, string, error) {
	if err := p.Require(perm.ReadCustomer); err != nil {
		return nil, "", err
	}
	if email != "" {
		c, err := s.FindByEmail(ctx, p, email)
		if apperr.IsCode(err, apperr.CodeNotFound) {
			return []Customer{}, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		return []Customer{c}, "", nil
	}
	return s.st.list(ctx, p.AccountID, after, limit)
}

// Update applies a patch and emits customer.updated, unless nothing changed:
// then it returns the customer as it is and emits nothing. The caller needs
// update:customer. Concurrent updates are applied one after the other.
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, patch Patch, cause events.Cause) (Customer, bool, error) {
	if err := p.Require(perm.UpdateCustomer); err != nil {
		return Customer{}, false, err
	}
	cause, err := s.guard(ctx, p, cause)
	if err != nil {
		return Customer{}, false, err
	}
	if !ids.HasPrefix(id, ids.Customer) {
		return Customer{}, false, apperr.NotFound("customer")
	}
	for try := 0; try < 20; try++ {
		old, err := s.st.get(ctx, p.AccountID, id)
		if err != nil {
			return Customer{}, false, err
		}
		next := patch.Apply(old)
		normalize(&next)
		in := next.input()
		if err := validate.Struct(&in); err != nil {
			return Customer{}, false, err
		}
		if SameFields(old, next) && old.Email == next.Email {
			return old, false, nil
		}
		next.UpdatedAt, next.version = s.stamp(), old.version+1
		cmd, err := s.write(ctx, p.AccountID, catalog.CustomerUpdated, next, cause, func(pipe redis.Pipeliner, m events.Mark) *redis.Cmd {
			return s.st.queueUpdate(ctx, pipe, p.AccountID, old, next, m)
		})
		if err == nil {
			err = updateResult(cmd)
		}
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return Customer{}, false, err
		}
		return next, true, nil
	}
	return Customer{}, false, apperr.Conflict("the customer is being changed by other requests; retry")
}

// Delete removes a customer and emits customer.deleted with the customer as
// it was. The caller needs delete:customer.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string, cause events.Cause) (Customer, error) {
	if err := p.Require(perm.DeleteCustomer); err != nil {
		return Customer{}, err
	}
	cause, err := s.guard(ctx, p, cause)
	if err != nil {
		return Customer{}, err
	}
	if !ids.HasPrefix(id, ids.Customer) {
		return Customer{}, apperr.NotFound("customer")
	}
	for try := 0; try < 20; try++ {
		old, err := s.st.get(ctx, p.AccountID, id)
		if err != nil {
			return Customer{}, err
		}
		cmd, err := s.write(ctx, p.AccountID, catalog.CustomerDeleted, old, cause, func(pipe redis.Pipeliner, m events.Mark) *redis.Cmd {
			return s.st.queueDelete(ctx, pipe, p.AccountID, old, m)
		})
		if err == nil {
			err = deleteResult(cmd)
		}
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return Customer{}, err
		}
		return old, nil
	}
	return Customer{}, apperr.Conflict("the customer is being changed by other requests; retry")
}

// guard stamps the write's cause with the caller's credential and asks the
// event log's WriteGuard (the loop guard) whether the write may happen.
func (s *Service) guard(ctx context.Context, p auth.Principal, cause events.Cause) (events.Cause, error) {
	cause.Credential = p.Credential.String()
	return cause, s.log.CheckWrite(ctx, p, cause)
}
