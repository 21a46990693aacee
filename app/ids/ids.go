// Package ids makes Hookline's resource ids: a type prefix and a ULID in
// lower case (acc_01j…), so ids sort by creation time as plain strings.
// Lists rely on that order.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
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

var (
	mu      sync.Mutex
	entropy = ulid.Monotonic(rand.Reader, 0)
)

// New returns a fresh id of the given kind made at now. Ids made by one
// process in the same millisecond still sort in the order they were made.
func New(prefix string, now time.Time) string {
	mu.Lock()
	id, err := ulid.New(ulid.Timestamp(now), entropy)
	mu.Unlock()
	if err != nil {
		// The monotonic source overflows only after 2^80 ids in one millisecond
		// or if the clock goes backwards: fall back to plain randomness.
		id = ulid.MustNew(ulid.Timestamp(now), rand.Reader)
	}
	return prefix + "_" + strings.ToLower(id.String())
}

// Derive returns the id of the given kind made at t whose random part is
// fixed by seed: the same inputs always give the same id. It makes
// deduplicating ids, such as one delivery per (event, subscription).
func Derive(prefix string, t time.Time, seed string) string {
	sum := sha256.Sum256([]byte(seed))
	var id ulid.ULID
	_ = id.SetTime(ulid.Timestamp(t))
	_ = id.SetEntropy(sum[:10])
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
