// Package accounts holds accounts, their users and API keys, and turns an
// API key into an auth.Principal. Keys look like hk_<random>, are stored only
// as a SHA-256 hash and shown once; passwords are stored as bcrypt hashes.
package accounts

import (
	"time"
)

// Account is a tenant: every other record belongs to exactly one.
type Account struct {
	ID        string
	Name      string
	Status    string // "active" or "closed"
	CreatedAt time.Time
}

// User is a person who logs in to an account.
type User struct {
	ID          string
	AccountID   string
	Email       string
	Name        string
	Permissions []string
	CreatedAt   time.Time
	// DeactivatedAt is when the user was deactivated; zero while active.
	// A deactivated user's credentials all stop working.
	DeactivatedAt time.Time
}

// APIKey is a stored key; its secret is never kept, only its hash.
type APIKey struct {
	ID          string
	AccountID   string
	UserID      string
	Name        string
	Prefix      string // the first characters of the key, to tell keys apart
	Permissions []string
	CreatedAt   time.Time
	LastUsedAt  time.Time // zero when never used
	RevokedAt   time.Time // zero while active
}

// NewAccount is the input to CreateAccount.
type NewAccount struct {
	Name     string `json:"name" validate:"required,max=200"`
	Email    string `json:"email" validate:"required,email,max=254"`
	Password string `json:"password" validate:"required,min=8,max=72"`
}

// Created is what CreateAccount returns: the account, its owner and the
// owner's first API key in plain text (shown once).
type Created struct {
	Account Account
	Owner   User
	Key     APIKey
	RawKey  string
}
