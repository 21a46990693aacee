package events

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/perm"
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
	ev := l.New(p.AccountID, typ, data, cause)
	if err := l.Emit(ctx, ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}
