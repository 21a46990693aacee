// Package auth holds the Principal: who is calling, for which account, with
// which permissions, holding which credential. Services take a Principal and
// enforce rules on it; every surface (the JSON API, inbound endpoints, the
// dashboard, IFTTT) hands them the same type.
package auth

import (
	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/perm"
)

// Kind is the kind of credential a caller presented.
type Kind string

// The credential kinds. A principal of each kind is built in one place
// (accounts), from the user's permissions at that moment.
const (
	KindKey      Kind = "key"      // an API key (hk_…)
	KindOAuth    Kind = "oauth"    // an OAuth access token (an IFTTT connection)
	KindSession  Kind = "session"  // a dashboard session
	KindEndpoint Kind = "endpoint" // an inbound endpoint, acting as its owner
)

// Credential names what a caller authenticated with. Records a caller
// creates (webhooks, endpoints) remember it, so revoking the credential can
// act on them.
type Credential struct {
	Kind Kind
	ID   string // key_…, inb_…, a session or OAuth connection id
	Name string // a label for people: the key's name, the endpoint's name
}

// String is "kind:id", the stable form stored with records and used by the
// loop breaker; "" for the zero Credential.
func (c Credential) String() string {
	if c.ID == "" {
		return ""
	}
	return string(c.Kind) + ":" + c.ID
}

// ParseCredential reads the form String writes; anything else is the zero
// Credential.
func ParseCredential(s string) Credential {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return Credential{Kind: Kind(s[:i]), ID: s[i+1:]}
		}
	}
	return Credential{}
}

// Principal is an authenticated caller: a user of an account holding one
// credential. Perms are the user's permissions as they are at the moment of
// the request, narrowed by the credential's own (a key's permissions).
type Principal struct {
	AccountID   string
	AccountName string
	UserID      string
	Credential  Credential
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
