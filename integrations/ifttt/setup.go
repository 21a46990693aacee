package ifttt

import (
	"context"
	"fmt"
	"time"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/customers"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/ids"
)

// Sample values test/setup hands IFTTT's endpoint tests.
const (
	sampleCustomers = 3
	skipEmail       = "nobody-here@ifttt-test.invalid"
	createEmail     = "ifttt-action@example.com"
)

func sampleEmail(n int) string { return fmt.Sprintf("ifttt-sample-%d@example.com", n) }

// Setup is test/setup's answer: an access token of the test user and a
// sample for every trigger field, action field, validation, skip and query.
type Setup struct {
	AccessToken string         `json:"accessToken"`
	Samples     map[string]any `json:"samples"`
}

// TestSetup creates, or reuses, the endpoint tests' account, user and
// connection, makes sure it holds at least three customers and three
// updates, and issues a fresh access token (earlier ones keep working for
// a minute). Callers must have checked the service key.
func (s *Service) TestSetup(ctx context.Context) (Setup, error) {
	c, err := s.testConnection(ctx)
	if err != nil {
		return Setup{}, err
	}
	old, err := s.st.liveTokens(ctx, c.AccountID, c.ID)
	if err != nil {
		return Setup{}, err
	}
	if err := s.st.expireTokens(ctx, old, s.now().Add(rotationGrace), rotationGrace+time.Hour); err != nil {
		return Setup{}, err
	}
	t, err := s.issue(ctx, c)
	if err != nil {
		return Setup{}, err
	}
	p, err := s.d.Accounts.Principal(ctx, c.AccountID, c.UserID, c.Credential(), nil)
	if err != nil {
		return Setup{}, err
	}
	if err := s.sampleData(ctx, p); err != nil {
		return Setup{}, err
	}
	return Setup{AccessToken: t.Access, Samples: map[string]any{
		"triggers": map[string]any{
			TriggerNewCustomer:     map[string]string{},
			TriggerUpdatedCustomer: map[string]string{},
			TriggerNewEvent:        map[string]string{fieldEventType: catalog.CustomerCreated},
		},
		"triggerFieldValidations": map[string]any{
			TriggerNewEvent: map[string]any{fieldEventType: map[string]string{"valid": catalog.CustomerUpdated, "invalid": "nothing.here"}},
		},
		"actions": map[string]any{
			ActionCreateCustomer: map[string]string{"name": "Ifttt Sample", "email": createEmail, "phone": "+1 555 0100"},
			ActionUpdateCustomer: map[string]string{"email": sampleEmail(1), "name": "Sample One", "phone": "+1 555 0101"},
		},
		"actionRecordSkipping": map[string]any{
			ActionUpdateCustomer: map[string]string{"email": skipEmail, "name": "Nobody", "phone": ""},
		},
		"queries": map[string]any{QueryListCustomers: map[string]string{}},
	}}, nil
}

// testConnection returns the test account's connection, creating the
// account (with an unguessable password nobody signs in with), its owner
// and the connection on first use or after the account was removed.
func (s *Service) testConnection(ctx context.Context) (Connection, error) {
	acct, user, conn, err := s.st.testAccount(ctx)
	if err != nil {
		return Connection{}, err
	}
	if acct != "" {
		c, err := s.st.connection(ctx, acct, conn)
		if err == nil && c.RevokedAt.IsZero() {
			if _, err := s.d.Accounts.Principal(ctx, acct, user, c.Credential(), nil); err == nil {
				return c, nil
			}
		} else if err != nil && !apperr.IsCode(err, apperr.CodeNotFound) {
			return Connection{}, err
		}
	}
	created, err := s.d.Accounts.CreateAccount(ctx, accounts.NewAccount{
		Name: "IFTTT endpoint tests", Email: "ifttt-tests-" + ids.Secret(6) + "@example.com", Password: ids.Secret(24),
	})
	if err != nil {
		return Connection{}, err
	}
	now := s.now()
	c := Connection{ID: ids.New(connPrefix, now), AccountID: created.Account.ID, UserID: created.Owner.ID, ClientID: s.opts.ClientID,
		Scope: "ifttt-endpoint-tests", CreatedAt: now}
	if err := s.st.createConnection(ctx, c); err != nil {
		return Connection{}, err
	}
	return c, s.st.setTestAccount(ctx, c.AccountID, c.UserID, c.ID)
}

// sampleData makes sure the test account has at least three customers
// (created once) and three fresh updates (one per customer, each call).
func (s *Service) sampleData(ctx context.Context, p auth.Principal) error {
	cause := events.Cause{Credential: p.Credential.String()}
	for n := 1; n <= sampleCustomers; n++ {
		c, err := s.d.Customers.FindByEmail(ctx, p, sampleEmail(n))
		if apperr.IsCode(err, apperr.CodeNotFound) {
			c, err = s.d.Customers.Create(ctx, p, customers.NewCustomer{
				Name: fmt.Sprintf("Sample Customer %d", n), Email: sampleEmail(n), Phone: fmt.Sprintf("+1 555 010%d", n),
			}, cause)
		}
		if err != nil {
			return err
		}
		notes := "updated by IFTTT test setup at " + s.now().Format("2006-01-02T15:04:05.000Z")
		if _, _, err := s.d.Customers.Update(ctx, p, c.ID, customers.Patch{Notes: &notes}, cause); err != nil {
			return err
		}
	}
	return nil
}
