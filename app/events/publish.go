package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/idempotency"
	"github.com/hookline/hookline/app/perm"
	"github.com/redis/go-redis/v9"
)

// Guard sets the WriteGuard every core write asks first (the loop guard).
// Call it while wiring.
func (l *Log) Guard(g WriteGuard) { l.guard.Store(&g) }

// CheckWrite asks the WriteGuard whether p may write with cause; with no
// guard wired, every write may. The core's write paths (customers,
// publishing) call it after their permission check and before writing.
func (l *Log) CheckWrite(ctx context.Context, p auth.Principal, cause Cause) error {
	g := l.guard.Load()
	if g == nil {
		return nil
	}
	return (*g).CheckWrite(ctx, p, cause)
}

// Publish records and delivers an event the host app announces. The caller
// needs publish:event; the type must be one of the account's own catalog
// types (customer.* events come from the customer API); data must be a JSON
// object of at most 256 KiB. The WriteGuard is asked first.
func (l *Log) Publish(ctx context.Context, p auth.Principal, typ string, data json.RawMessage, cause Cause) (Event, error) {
	if err := p.Require(perm.PublishEvent); err != nil {
		return Event{}, err
	}
	cause.Credential = p.Credential.String()
	if err := l.CheckWrite(ctx, p, cause); err != nil {
		return Event{}, err
	}
	var fields []apperr.FieldError
	t, err := l.catalog.Get(ctx, p.AccountID, typ)
	switch {
	case typ == "":
		fields = append(fields, apperr.FieldError{Field: "type", Message: "is required"})
	case apperr.IsCode(err, apperr.CodeNotFound):
		fields = append(fields, apperr.FieldError{Field: "type", Message: "is not an event type in the catalog; register it with POST /v1/event-types"})
	case err != nil:
		return Event{}, err
	case t.BuiltIn:
		fields = append(fields, apperr.FieldError{Field: "type", Message: "built-in types are emitted by Hookline itself"})
	}
	trimmed := strings.TrimSpace(string(data))
	switch {
	case len(data) > MaxDataSize:
		return Event{}, apperr.TooLarge("data is larger than the 256 KiB limit")
	case len(trimmed) == 0 || trimmed[0] != '{':
		fields = append(fields, apperr.FieldError{Field: "data", Message: "must be a JSON object"})
	}
	if len(fields) > 0 {
		return Event{}, apperr.Invalid(fields...)
	}
	// With an Idempotency-Key, a retry after a crash between recording and
	// answering finds the event the first try recorded, and answers with it
	// instead of making a second one that receivers could not dedupe.
	scope, _ := idempotency.Scope(ctx)
	if scope != "" {
		id, err := l.rdb.Get(ctx, l.keys.PublishedBy(p.AccountID, scope)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return Event{}, fmt.Errorf("events: read publish scope: %w", err)
		}
		if id != "" {
			if ev, err := l.Get(ctx, p.AccountID, id); err == nil {
				return ev, nil
			}
		}
	}
	ev := l.New(p.AccountID, typ, data, cause)
	if err := l.emit(ctx, ev, scope); err != nil {
		return Event{}, err
	}
	return ev, nil
}
