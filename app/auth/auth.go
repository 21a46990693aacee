// Package auth holds the Principal: who is calling, for which account, with
// which permissions. Services take a Principal and enforce rules on it.
package auth

import (
	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/perm"
)

// Principal is an authenticated caller: an API key of a user of an account.
// Perms are the key's permissions intersected with its user's, as they are at
// the moment of the request.
type Principal struct {
	AccountID   string
	AccountName string
	UserID      string
	KeyID       string
	KeyName     string
	Perms       perm.Set
}

// Has reports whether the caller holds permission p.
func (p Principal) Has(permission string) bool { return p.Perms.Has(permission) }

// Require returns a forbidden error naming the first permission the caller lacks.
func (p Principal) Require(perms ...string) error {
	for _, x := range perms {
		if !p.Perms.Has(x) {
			return apperr.Forbidden(x)
		}
	}
	return nil
}
