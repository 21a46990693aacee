// Package events holds the event envelope, the seams through which the core
// announces what happened (Emitter) and asks whether a write may happen
// (WriteGuard), and the account's event log. The log records each event,
// then forwards it to the emitters the composition root connects (outbound
// delivery first), through an outbox it drains itself.
package events

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hookline/hookline/app/auth"
)

// Event is one thing that happened in an account. Its JSON form is the
// envelope every delivery carries.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	AccountID string          `json:"account_id"`
	Data      json.RawMessage `json:"data"`

	// Cause links the event to the write that produced it; it is kept in the
	// log for loop safety and never part of the envelope.
	Cause Cause `json:"-"`
}

// Cause says which write produced an event.
type Cause struct {
	Chain      string // causal chain id; a fresh chain starts at hop 0
	Hop        int    // how many deliveries led to this write
	Credential string // the credential that wrote ("key:key_…", "endpoint:inb_…"), if any
	Resource   string // the resource id the event is about, if any
}

// WriteGuard is asked before every core write on behalf of a caller, with
// the cause the write will record: the loop guard (inbound) implements it,
// refusing a writer its breaker paused and a causal chain past the hop
// limit. The composition root connects it (Log.Guard).
type WriteGuard interface {
	CheckWrite(ctx context.Context, p auth.Principal, cause Cause) error
}

// Emitter receives events as they happen. Each emitter must be idempotent
// per event id: the outbox hands an event on again after a crash or an
// error, to every emitter.
type Emitter interface {
	Emit(ctx context.Context, ev Event) error
}

// EmitterFunc adapts a function to Emitter.
type EmitterFunc func(ctx context.Context, ev Event) error

// Emit calls f.
func (f EmitterFunc) Emit(ctx context.Context, ev Event) error { return f(ctx, ev) }
