// Package customers is the reference domain integrations act on. Every
// write emits customer.created, customer.updated or customer.deleted with
// the customer as data; a write that changes nothing emits nothing. Emails
// are unique per account, ignoring case.
package customers

import (
	"encoding/json"
	"time"
)

// Customer is one customer of an account. Its JSON form is the API's and
// the events' data.
type Customer struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	Phone      string    `json:"phone"`
	Birthday   string    `json:"birthday"`
	Notes      string    `json:"notes"`
	ExternalID string    `json:"external_id"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`

	version int64 // bumped on every write, for optimistic updates
}

// JSON is the customer as event data.
func (c Customer) JSON() json.RawMessage {
	b, _ := json.Marshal(c) // a struct of strings and times always encodes
	return b
}

// NewCustomer is the input to Create.
type NewCustomer struct {
	Name       string `json:"name" validate:"required,max=200"`
	Email      string `json:"email" validate:"required,email,max=254"`
	Phone      string `json:"phone" validate:"omitempty,max=40,phone"`
	Birthday   string `json:"birthday" validate:"omitempty,datetime=2006-01-02"`
	Notes      string `json:"notes" validate:"max=10000"`
	ExternalID string `json:"external_id" validate:"max=200"`
}

// Patch is the input to Update; nil fields are left as they are, and an
// empty string clears an optional field. The patched customer is validated
// as a whole, with NewCustomer's rules.
type Patch struct {
	Name       *string `json:"name"`
	Email      *string `json:"email"`
	Phone      *string `json:"phone"`
	Birthday   *string `json:"birthday"`
	Notes      *string `json:"notes"`
	ExternalID *string `json:"external_id"`
}

// Apply returns c with the patch applied.
func (p Patch) Apply(c Customer) Customer {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.Name, p.Name)
	set(&c.Email, p.Email)
	set(&c.Phone, p.Phone)
	set(&c.Birthday, p.Birthday)
	set(&c.Notes, p.Notes)
	set(&c.ExternalID, p.ExternalID)
	return c
}

// input is the customer's fields as a NewCustomer, for validation.
func (c Customer) input() NewCustomer {
	return NewCustomer{Name: c.Name, Email: c.Email, Phone: c.Phone, Birthday: c.Birthday, Notes: c.Notes, ExternalID: c.ExternalID}
}

// Normalized returns c with its fields trimmed as writes store them.
func (c Customer) Normalized() Customer {
	normalize(&c)
	return c
}

// SameFields reports whether two customers hold the same data, ignoring
// ids, times and letter case in the email.
func SameFields(a, b Customer) bool {
	return a.Name == b.Name && emailKey(a.Email) == emailKey(b.Email) && a.Phone == b.Phone &&
		a.Birthday == b.Birthday && a.Notes == b.Notes && a.ExternalID == b.ExternalID
}
