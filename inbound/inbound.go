// Package inbound lets other systems act on an account: the actions API
// (create_customer, update_customer, …) under permission checks, and the
// loop guard that keeps two integrations syncing both ways from spinning:
// causal hop counting when Hookline-Chain/Hookline-Hop come back, echo and
// flip-flop suppression when they do not, incidents and a circuit breaker.
// Inbound endpoints for forms and booking apps live in inbound/endpoints
// and run actions through Service.Run.
package inbound

import (
	"encoding/json"
)

// Origin says what caused a write; who writes is the principal's
// credential (an API key, an inbound endpoint, an OAuth connection).
type Origin struct {
	// Chain and Hop come from Hookline-Chain and Hookline-Hop on the request;
	// HasChain is false when the sender did not forward them.
	Chain    string
	Hop      int
	HasChain bool
}

// Result is an action's outcome, rendered by the caller.
type Result struct {
	Status     int             // 200 or 201
	Body       json.RawMessage // the JSON response body
	ResourceID string          // the resource created, changed or found, if one
	Echo       bool            // the write was suppressed as an echo or flip-flop
}
