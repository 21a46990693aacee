package inbound

import "github.com/hookline/hookline/app/perm"

// Field describes one input of an action.
type Field struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	Help     string `json:"help"`
}

// Action describes one action of the catalog.
type Action struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Permission  string  `json:"permission"`
	Fields      []Field `json:"input_fields"`
}

var customerFields = []Field{
	{Name: "name", Type: "string", Help: "Full name."},
	{Name: "email", Type: "string", Help: "Email address; unique per account, ignoring case."},
	{Name: "phone", Type: "string", Help: "Phone number."},
	{Name: "birthday", Type: "string", Help: "Date of birth, YYYY-MM-DD."},
	{Name: "notes", Type: "string", Help: "Free notes."},
	{Name: "external_id", Type: "string", Help: "The customer's id in the other system."},
}

func withRequired(fs []Field, required ...string) []Field {
	out := append([]Field(nil), fs...)
	for i := range out {
		for _, r := range required {
			if out[i].Name == r {
				out[i].Required = true
			}
		}
	}
	return out
}

var idField = Field{Name: "id", Type: "string", Help: "The customer's id (cus_…); or give email to find the customer."}

// Actions is the catalog, in a stable order.
var Actions = []Action{
	{Name: "create_customer", Description: "Create a customer. An echo of a customer Hookline just sent answers 200 with echo: true and changes nothing.", Permission: perm.CreateCustomer, Fields: withRequired(customerFields, "name", "email")},
	{Name: "update_customer", Description: "Change a customer found by id or email; fields left out stay as they are.", Permission: perm.UpdateCustomer, Fields: append([]Field{idField}, customerFields...)},
	{Name: "upsert_customer", Description: "Update the customer with this email, or create one (201; creating also needs create:customer).", Permission: perm.UpdateCustomer, Fields: withRequired(customerFields, "email")},
	{Name: "find_customer", Description: "Find customers by email: {\"data\": [...]}, empty when none.", Permission: perm.ReadCustomer, Fields: []Field{{Name: "email", Type: "string", Required: true, Help: "Email address, any case."}}},
	{Name: "delete_customer", Description: "Delete a customer found by id or email.", Permission: perm.DeleteCustomer, Fields: []Field{idField, {Name: "email", Type: "string", Help: "Email address."}}},
	{Name: "publish_event", Description: "Publish an event of one of the account's own types.", Permission: perm.PublishEvent, Fields: []Field{{Name: "type", Type: "string", Required: true, Help: "An event type from the catalog (noun.verb)."}, {Name: "data", Type: "object", Required: true, Help: "The event's data, a JSON object."}}},
}

func findAction(name string) (Action, bool) {
	for _, a := range Actions {
		if a.Name == name {
			return a, true
		}
	}
	return Action{}, false
}
