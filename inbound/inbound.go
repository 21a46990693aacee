// Package inbound lets other systems act on an account: the actions API
// (create_customer, update_customer, …) under permission checks, and the
// loop guard that keeps two integrations syncing both ways from spinning:
// causal hop counting when Hookline-Chain/Hookline-Hop come back, echo and
// flip-flop suppression when they do not, incidents and a circuit breaker.
// Inbound endpoints for forms and booking apps live in inbound/endpoints
// and run actions through Service.Run.
package inbound

import (
	"github.com/hookline/hookline/app/customers"
	"github.com/hookline/hookline/app/events"
)

// Origin says what caused a write; who writes is the principal's
// credential (an API key, an inbound endpoint, an OAuth connection).
type Origin struct {
	// Chain and Hop come from Hookline-Chain and Hookline-Hop on the request;
	// HasChain is false when the sender did not forward them.
	Chain    string
	Hop      int
	HasChain bool
	// Unverified is true when the sender proved nothing about itself (a
	// public inbound endpoint without verification): its echoes are still
	// suppressed and recorded in the incident, but never pause the writer,
	// so an outsider cannot switch an endpoint off by posting echoes.
	Unverified bool
}

// Outcome is what an action did, for each surface to render (Response is
// the JSON rendering). Exactly one of Customer, Customers and Event is set,
// by the kind of action.
type Outcome struct {
	Action string // the action that ran
	// Customer is the customer written, found for an echo, or deleted (as
	// it was), for the customer actions except find_customer.
	Customer *customers.Customer
	// Customers are find_customer's matches, possibly none.
	Customers []customers.Customer
	// Event is the event publish_event published.
	Event *events.Event
	// Created is true when the action created its resource.
	Created bool
	// Echo is true when the write was suppressed as an echo or flip-flop of
	// a state Hookline had just sent out: nothing changed.
	Echo bool
	// Readable is true when the caller holds read:customer: only then may
	// an answer show the customer's fields (Response), so a create- or
	// update-only key learns no more than the id it wrote.
	Readable bool
	// Taken is true when create_customer, or an update changing the email,
	// found the email on another customer and the caller may not be told
	// so (it lacks read:customer, or it is an inbound endpoint): nothing
	// changed, Customer is nil, and the answer looks like a success's with
	// AnswerID: for a create (Created is then true) a fresh id that names
	// no customer, for an update the id of the customer it would have
	// changed. Whoever may read customers gets a 422 instead.
	Taken    bool
	AnswerID string
}

// ResourceID is the id of the customer the action created, changed,
// deleted or matched as an echo; "" for find_customer, publish_event and
// a Taken create.
func (o Outcome) ResourceID() string {
	if o.Customer == nil {
		return ""
	}
	return o.Customer.ID
}
