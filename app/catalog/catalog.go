// Package catalog lists the event types an account can subscribe to: the
// built-in customer.* types and the account's own types, registered for
// events its host app publishes. Every type names the permission needed to
// read it, so a subscription can never read more than its owner may.
package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/app/validate"
)

// EventType describes one kind of event.
type EventType struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Resource    string          `json:"resource"`
	Permission  string          `json:"permission"` // needed to receive or read it
	Sample      json.RawMessage `json:"sample"`     // an example of the event's data
	BuiltIn     bool            `json:"built_in"`
	CreatedAt   *time.Time      `json:"created_at"`
}

var customerSample = json.RawMessage(`{"id":"cus_01jd9q6m3v6f0t1r2y3x4z5a6b","name":"Ann Example","email":"ann@example.com","phone":"+15550001","birthday":"1990-04-01","notes":"","external_id":"","created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}`)

// Names of the built-in types.
const (
	CustomerCreated = "customer.created"
	CustomerUpdated = "customer.updated"
	CustomerDeleted = "customer.deleted"
)

var builtIn = []EventType{
	{Name: CustomerCreated, Description: "A customer was created.", Resource: "customer", Permission: perm.ReadCustomer, Sample: customerSample, BuiltIn: true},
	{Name: CustomerUpdated, Description: "A customer's fields changed.", Resource: "customer", Permission: perm.ReadCustomer, Sample: customerSample, BuiltIn: true},
	{Name: CustomerDeleted, Description: "A customer was deleted; data is the customer as it was.", Resource: "customer", Permission: perm.ReadCustomer, Sample: customerSample, BuiltIn: true},
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}\.[a-z][a-z0-9_]{0,39}$`)

// reservedNouns are resources whose types Hookline itself defines.
var reservedNouns = map[string]bool{"customer": true, "webhook": true, "hookline": true}

// Service reads and registers event types.
type Service struct {
	rdb  redis.UniversalClient
	keys store.Keys
	now  func() time.Time
	// cache holds account types already read: types are never changed or
	// removed once registered, so a cached type cannot go stale. Absence is
	// not cached (a type may be registered at any time).
	cache sync.Map // acct + "\x00" + name → EventType
}

// New returns a Service; now nil means time.Now.
func New(rdb redis.UniversalClient, keys store.Keys, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{rdb: rdb, keys: keys, now: now}
}

// Get returns the type with the given name, built in or the account's own,
// or a not-found error.
func (s *Service) Get(ctx context.Context, acct, name string) (EventType, error) {
	for _, t := range builtIn {
		if t.Name == name {
			return t, nil
		}
	}
	ck := acct + "\x00" + name
	if t, ok := s.cache.Load(ck); ok {
		return t.(EventType), nil
	}
	raw, err := s.rdb.HGet(ctx, s.keys.EventTypes(acct), name).Result()
	if errors.Is(err, redis.Nil) {
		return EventType{}, apperr.NotFound("event type")
	}
	if err != nil {
		return EventType{}, fmt.Errorf("catalog: load %s: %w", name, err)
	}
	var t EventType
	if err := json.Unmarshal([]byte(raw), &t); err != nil {
		return EventType{}, fmt.Errorf("catalog: decode %s: %w", name, err)
	}
	s.cache.Store(ck, t)
	return t, nil
}

// List returns the built-in types, then the account's own, by name.
func (s *Service) List(ctx context.Context, acct string) ([]EventType, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.EventTypes(acct)).Result()
	if err != nil {
		return nil, fmt.Errorf("catalog: list: %w", err)
	}
	own := make([]EventType, 0, len(m))
	for _, raw := range m {
		var t EventType
		if err := json.Unmarshal([]byte(raw), &t); err != nil {
			return nil, fmt.Errorf("catalog: decode: %w", err)
		}
		own = append(own, t)
	}
	sort.Slice(own, func(i, j int) bool { return own[i].Name < own[j].Name })
	return append(append([]EventType(nil), builtIn...), own...), nil
}

// NewType is the input to Create.
type NewType struct {
	Name        string          `json:"name" validate:"required,max=81"`
	Description string          `json:"description" validate:"required,max=500"`
	Permission  string          `json:"permission" validate:"omitempty,max=50"`
	Sample      json.RawMessage `json:"sample"`
}

// Create registers one of the account's own types; the caller needs
// manage:webhook. Permission defaults to subscribe:webhook (no extra read
// permission). A name already taken is a conflict.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewType) (EventType, error) {
	if err := p.Require(perm.ManageWebhook); err != nil {
		return EventType{}, err
	}
	if err := validate.Struct(&in); err != nil {
		return EventType{}, err
	}
	var fields []apperr.FieldError
	noun, _, _ := strings.Cut(in.Name, ".")
	switch {
	case !namePattern.MatchString(in.Name):
		fields = append(fields, apperr.FieldError{Field: "name", Message: "must look like noun.verb in lower case, such as invoice.paid"})
	case reservedNouns[noun]:
		fields = append(fields, apperr.FieldError{Field: "name", Message: fmt.Sprintf("%s.* types are built in", noun)})
	}
	if in.Permission == "" {
		in.Permission = perm.SubscribeWebhook
	} else if !perm.Known(in.Permission) {
		fields = append(fields, apperr.FieldError{Field: "permission", Message: "must be one of: " + strings.Join(perm.All, ", ")})
	}
	if len(in.Sample) == 0 || string(in.Sample) == "null" {
		in.Sample = json.RawMessage(`{}`)
	} else if in.Sample[0] != '{' {
		fields = append(fields, apperr.FieldError{Field: "sample", Message: "must be a JSON object"})
	} else if len(in.Sample) > 64<<10 {
		fields = append(fields, apperr.FieldError{Field: "sample", Message: "must be at most 64 KiB"})
	}
	if len(fields) > 0 {
		return EventType{}, apperr.Invalid(fields...)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	t := EventType{Name: in.Name, Description: strings.TrimSpace(in.Description), Resource: noun,
		Permission: in.Permission, Sample: compact(in.Sample), CreatedAt: &now}
	raw, err := json.Marshal(t)
	if err != nil {
		return EventType{}, fmt.Errorf("catalog: encode: %w", err)
	}
	ok, err := s.rdb.HSetNX(ctx, s.keys.EventTypes(p.AccountID), t.Name, raw).Result()
	if err != nil {
		return EventType{}, fmt.Errorf("catalog: create %s: %w", t.Name, err)
	}
	if !ok {
		return EventType{}, apperr.Conflict(fmt.Sprintf("event type %q already exists", t.Name))
	}
	return t, nil
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
