// Package events holds the event envelope, the Emitter seam through which the
// core announces what happened, and the account's event log. The log is an
// Emitter itself: it records each event, then forwards it to the next
// Emitter (outbound delivery), which the composition root connects.
package events

import (
	"context"
	"encoding/json"
	"time"
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
	Chain    string // causal chain id; a fresh chain starts at hop 0
	Hop      int    // how many deliveries led to this write
	KeyID    string // the API key that wrote, if any
	Endpoint string // the inbound endpoint that wrote, if any
	Resource string // the resource id the event is about, if any
}

// Emitter receives events as they happen. Emit must not return before the
// event is durably recorded; an error means the caller's write may have
// happened without its event.
type Emitter interface {
	Emit(ctx context.Context, ev Event) error
}

// EmitterFunc adapts a function to Emitter.
type EmitterFunc func(ctx context.Context, ev Event) error

// Emit calls f.
func (f EmitterFunc) Emit(ctx context.Context, ev Event) error { return f(ctx, ev) }
