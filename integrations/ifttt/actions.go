package ifttt

import (
	"context"
	"strings"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/customers"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/inbound"
)

// Action and query slugs.
const (
	ActionCreateCustomer = "create_customer"
	ActionUpdateCustomer = "update_customer"
	QueryListCustomers   = "list_customers"
)

// actionFields lists each action's fields; required ones first.
var actionFields = map[string]struct{ required, optional []string }{
	ActionCreateCustomer: {required: []string{"name", "email"}, optional: []string{"phone"}},
	ActionUpdateCustomer: {required: []string{"email"}, optional: []string{"name", "phone"}},
}

// RunAction runs an IFTTT action through the inbound actions service
// (permissions, the loop guard) and returns the id of the customer it
// wrote. Unknown fields are ignored, a missing required one is a 400.
// create_customer with the email of an existing customer answers that
// customer (IFTTT's tester repeats samples); update_customer of an unknown
// email is a skip.
func (s *Service) RunAction(ctx context.Context, p auth.Principal, slug string, fields map[string]string) (string, error) {
	spec, ok := actionFields[slug]
	if !ok {
		return "", apperr.NotFound("action")
	}
	input := map[string]any{}
	for _, f := range spec.required {
		v := strings.TrimSpace(fields[f])
		if v == "" {
			return "", apperr.BadRequest("missing action field: " + f)
		}
		input[f] = v
	}
	for _, f := range spec.optional {
		// IFTTT sends optional fields left blank as "": leave them as they are.
		if v := strings.TrimSpace(fields[f]); v != "" {
			input[f] = v
		}
	}
	out, err := s.d.Inbound.Run(ctx, p, slug, input, inbound.Origin{})
	switch {
	case err == nil:
		return out.ResourceID(), nil
	case slug == ActionUpdateCustomer && apperr.IsCode(err, apperr.CodeNotFound):
		return "", &apperr.Error{Code: apperr.CodeBadRequest, Message: "No customer has the email " + input["email"].(string) + ": skipped.", Cause: skipError}
	case slug == ActionCreateCustomer && emailTaken(err):
		c, ferr := s.d.Customers.FindByEmail(ctx, p, input["email"].(string))
		if ferr != nil {
			return "", actionError(err)
		}
		return c.ID, nil
	}
	return "", actionError(err)
}

func emailTaken(err error) bool {
	e := apperr.As(err)
	return e != nil && e.Code == apperr.CodeValidation && len(e.Fields) == 1 && e.Fields[0].Field == "email" &&
		strings.Contains(e.Fields[0].Message, "already has this email")
}

// actionError turns a validation failure into IFTTT's 400 with a sentence
// for the user's activity feed; other errors keep their status.
func actionError(err error) error {
	e := apperr.As(err)
	if e == nil || e.Code != apperr.CodeValidation {
		return err
	}
	msg := e.Message
	if len(e.Fields) > 0 {
		parts := make([]string, len(e.Fields))
		for i, f := range e.Fields {
			parts[i] = f.Field + " " + f.Message
		}
		msg = strings.Join(parts, "; ")
	}
	return &apperr.Error{Code: apperr.CodeBadRequest, Message: "Invalid " + msg + ".", Cause: err}
}

// CustomerItem is a customer as a query item.
type CustomerItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
	CreatedAt string `json:"created_at"`
}

// ListCustomers answers the list_customers query: the account's customers,
// newest first, limit at a time, continuing after cursor. p needs
// read:customer.
func (s *Service) ListCustomers(ctx context.Context, p auth.Principal, cursor string, limit int) ([]CustomerItem, string, error) {
	if limit == 0 {
		if err := p.Require(perm.ReadCustomer); err != nil {
			return nil, "", err
		}
		return []CustomerItem{}, "", nil
	}
	list, next, err := s.d.Customers.List(ctx, p, "", cursor, limit)
	if err != nil {
		return nil, "", err
	}
	out := make([]CustomerItem, len(list))
	for i, c := range list {
		out[i] = customerItem(c)
	}
	return out, next, nil
}

func customerItem(c customers.Customer) CustomerItem {
	return CustomerItem{ID: c.ID, Name: c.Name, Email: c.Email, Phone: c.Phone, CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339)}
}
