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

// Options bound the catalog; zero values mean the defaults.
type Options struct {
	// MaxTypes is how many own types an account may register. Zero means 200.
	MaxTypes int
	// MaxSampleBytes bounds the bytes of all of an account's samples
	// together. Zero means 1 MiB.
	MaxSampleBytes int
	// CacheSize bounds the in-process cache of types read. Zero means 10,000.
	CacheSize int
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Service reads and registers event types.
type Service struct {
	rdb  redis.UniversalClient
	keys store.Keys
	opts Options
	// cache holds account types already read: types are never changed or
	// removed once registered, so a cached type cannot go stale. Absence is
	// not cached (a type may be registered at any time). It is emptied
	// when it reaches CacheSize, so it cannot grow without bound.
	mu    sync.RWMutex
	cache map[string]EventType // acct + "\x00" + name
}

// New returns a Service.
func New(rdb redis.UniversalClient, keys store.Keys, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxTypes == 0 {
		opts.MaxTypes = 200
	}
	if opts.MaxSampleBytes == 0 {
		opts.MaxSampleBytes = 1 << 20
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 10_000
	}
	return &Service{rdb: rdb, keys: keys, opts: opts, cache: map[string]EventType{}}
}

func (s *Service) cached(ck string) (EventType, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.cache[ck]
	return t, ok
}

func (s *Service) remember(ck string, t EventType) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= s.opts.CacheSize {
		s.cache = make(map[string]EventType, s.opts.CacheSize)
	}
	s.cache[ck] = t
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
	if t, ok := s.cached(ck); ok {
		return t, nil
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
	s.remember(ck, t)
	return t, nil
}

// List returns one page of the catalog: the built-in types first, then the
// account's own by name, continuing after the type named after ("" for the
// first page). next is the name to continue after, "" at the end.
func (s *Service) List(ctx context.Context, acct, after string, limit int) ([]EventType, string, error) {
	var page []EventType
	ownAfter := "-"
	if after == "" || isBuiltIn(after) {
		past := after == ""
		for _, t := range builtIn {
			if past {
				page = append(page, t)
			}
			past = past || t.Name == after
		}
	} else {
		ownAfter = "(" + after
	}
	want := limit + 1 - len(page)
	if want > 0 {
		names, err := s.rdb.ZRangeByLex(ctx, s.keys.EventTypeNames(acct), &redis.ZRangeBy{Min: ownAfter, Max: "+", Count: int64(want)}).Result()
		if err != nil {
			return nil, "", fmt.Errorf("catalog: list: %w", err)
		}
		if len(names) > 0 {
			raws, err := s.rdb.HMGet(ctx, s.keys.EventTypes(acct), names...).Result()
			if err != nil {
				return nil, "", fmt.Errorf("catalog: list: %w", err)
			}
			for _, r := range raws {
				raw, _ := r.(string)
				var t EventType
				if raw == "" || json.Unmarshal([]byte(raw), &t) != nil {
					continue
				}
				page = append(page, t)
			}
		}
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1].Name
	}
	return page, next, nil
}

func isBuiltIn(name string) bool {
	for _, t := range builtIn {
		if t.Name == name {
			return true
		}
	}
	return false
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
	now := s.opts.Now().UTC().Truncate(time.Millisecond)
	t := EventType{Name: in.Name, Description: strings.TrimSpace(in.Description), Resource: noun,
		Permission: in.Permission, Sample: compact(in.Sample), CreatedAt: &now}
	raw, err := json.Marshal(t)
	if err != nil {
		return EventType{}, fmt.Errorf("catalog: encode: %w", err)
	}
	res, err := createScript.Run(ctx, s.rdb,
		[]string{s.keys.EventTypes(p.AccountID), s.keys.EventTypeNames(p.AccountID), s.keys.EventTypeSampleBytes(p.AccountID)},
		t.Name, raw, len(t.Sample), s.opts.MaxTypes, s.opts.MaxSampleBytes).Text()
	if err != nil {
		return EventType{}, fmt.Errorf("catalog: create %s: %w", t.Name, err)
	}
	switch res {
	case "exists":
		return EventType{}, apperr.Conflict(fmt.Sprintf("event type %q already exists", t.Name))
	case "types":
		return EventType{}, apperr.Conflict(fmt.Sprintf("the account has reached its limit of %d event types (HOOKLINE_MAX_EVENT_TYPES)", s.opts.MaxTypes))
	case "bytes":
		return EventType{}, apperr.Conflict(fmt.Sprintf("the account's samples would exceed %d bytes in all (HOOKLINE_MAX_SAMPLE_BYTES); send a smaller sample", s.opts.MaxSampleBytes))
	}
	return t, nil
}

// createScript registers a type within the account's quotas, atomically.
// KEYS[1] types HASH, KEYS[2] names ZSET, KEYS[3] sample bytes STRING.
// ARGV[1] name, ARGV[2] JSON, ARGV[3] sample bytes, ARGV[4] max types,
// ARGV[5] max sample bytes. Returns "ok", "exists", "types" or "bytes".
var createScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return 'types' end
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
if used + tonumber(ARGV[3]) > tonumber(ARGV[5]) then return 'bytes' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('INCRBY', KEYS[3], ARGV[3])
return 'ok'
`)

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
