// Package ids makes Hookline's resource ids: a type prefix and a ULID in
// lower case (acc_01j…), so ids sort by creation time as plain strings.
// Lists rely on that order.
package ids

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Prefixes of every id kind.
const (
	Account  = "acc"
	User     = "usr"
	Key      = "key"
	Customer = "cus"
	Event    = "evt"
	Webhook  = "whk"
	Delivery = "dlv"
	Attempt  = "att"
	Inbound  = "inb"
	Request  = "req"
	Incident = "inc"
	Chain    = "chn"
)

// New returns a fresh id of the given kind made at now.
func New(prefix string, now time.Time) string {
	id := ulid.MustNew(ulid.Timestamp(now), rand.Reader)
	return prefix + "_" + strings.ToLower(id.String())
}

// Floor returns the smallest id of the given kind that could have been made
// at t; every id made at or after t sorts at or above it.
func Floor(prefix string, t time.Time) string {
	var id ulid.ULID
	_ = id.SetTime(ulid.Timestamp(t))
	return prefix + "_" + strings.ToLower(id.String())
}

// HasPrefix reports whether id looks like an id of the given kind.
func HasPrefix(id, prefix string) bool {
	return len(id) == len(prefix)+1+26 && strings.HasPrefix(id, prefix+"_")
}

// Secret returns n random bytes encoded as unpadded URL-safe base64, for
// API keys, tokens and other bearer secrets.
func Secret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("ids: crypto/rand failed: " + err.Error()) // the OS has no entropy: nothing safe to do
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
