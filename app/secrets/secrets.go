// Package secrets encrypts the secrets Hookline must keep in a usable form
// (webhook signing secrets, basic and bearer credentials, custom header
// values, inbound HMAC and Standard Webhooks verification secrets) with
// AES-256-GCM under an operator key (HOOKLINE_SECRET_KEYS).
//
// A Keyring holds one or more keys with ids: the first seals, all open, so
// keys rotate without downtime (add the new key first, run `hookline admin
// rotate-secrets`, then drop the old one). Each sealed value is bound to
// where it is stored (its record and field, the "context"), so a sealed
// value copied into another record does not open there.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// prefix marks a sealed value: "hlenc1:<key id>:<base64url(nonce ‖ ciphertext)>".
const prefix = "hlenc1:"

// KeySize is the size of an operator key: 32 bytes (AES-256).
const KeySize = 32

type key struct {
	id   string
	aead cipher.AEAD
}

// Keyring seals with its first key and opens with any. The zero or nil
// Keyring seals nothing: values are stored as given (development without
// HOOKLINE_SECRET_KEYS; production refuses to start that way).
type Keyring struct {
	keys []key
}

// ErrOpen is returned for a sealed value no key of the ring opens: the
// key was removed too early, or the value was tampered with or moved.
var ErrOpen = errors.New("secrets: cannot open a sealed value with any configured key")

// Parse reads HOOKLINE_SECRET_KEYS: comma-separated "id:base64key" pairs,
// each key 32 bytes in standard or URL-safe base64, ids of 1 to 32 letters,
// digits, '-' or '_', no id twice. An empty string is a nil Keyring.
func Parse(s string) (*Keyring, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	kr := &Keyring{}
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || !validID(id) {
			return nil, fmt.Errorf("key %d: want id:base64key with an id of 1 to 32 letters, digits, - or _", i+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("key id %q appears twice", id)
		}
		seen[id] = true
		raw, err := decodeKey(b64)
		if err != nil || len(raw) != KeySize {
			return nil, fmt.Errorf("key %q: want %d bytes in base64", id, KeySize)
		}
		if err := kr.add(id, raw); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

// New returns a Keyring of raw keys, the first sealing; for tests and
// tools. ids and keys pair up by position.
func New(ids []string, keys [][]byte) (*Keyring, error) {
	kr := &Keyring{}
	for i := range ids {
		if !validID(ids[i]) || len(keys[i]) != KeySize {
			return nil, fmt.Errorf("secrets: key %q: bad id or size", ids[i])
		}
		if err := kr.add(ids[i], keys[i]); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

// NewKey returns a fresh random key in the form Parse reads, for `make
// run` and operators.
func NewKey(id string) string {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic("secrets: no randomness: " + err.Error())
	}
	return id + ":" + base64.StdEncoding.EncodeToString(b)
}

func (k *Keyring) add(id string, raw []byte) error {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return fmt.Errorf("secrets: key %q: %w", id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("secrets: key %q: %w", id, err)
	}
	k.keys = append(k.keys, key{id: id, aead: aead})
	return nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Enabled reports whether values are sealed.
func (k *Keyring) Enabled() bool { return k != nil && len(k.keys) > 0 }

// CurrentID is the id of the sealing key, "" when disabled.
func (k *Keyring) CurrentID() string {
	if !k.Enabled() {
		return ""
	}
	return k.keys[0].id
}

// Seal encrypts plain for the place named by context (say
// "hl:{acc_…}:whk:whk_…#secret"). The empty string stays empty, so "no
// secret" needs no key to read. With a disabled Keyring, plain is returned
// as is.
func (k *Keyring) Seal(plain, context string) (string, error) {
	if plain == "" || !k.Enabled() {
		return plain, nil
	}
	cur := k.keys[0]
	nonce := make([]byte, cur.aead.NonceSize(), cur.aead.NonceSize()+len(plain)+cur.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: nonce: %w", err)
	}
	sealed := cur.aead.Seal(nonce, nonce, []byte(plain), []byte(context))
	return prefix + cur.id + ":" + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Open decrypts a value Seal wrote for the same context. A value that is
// not sealed (written before encryption was configured) is returned as it
// is, so a deployment can turn encryption on and rotate-secrets later; a
// sealed value no configured key opens is ErrOpen.
func (k *Keyring) Open(stored, context string) (string, error) {
	if !strings.HasPrefix(stored, prefix) {
		return stored, nil
	}
	id, b64, ok := strings.Cut(stored[len(prefix):], ":")
	if !ok || k == nil {
		return "", ErrOpen
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return "", ErrOpen
	}
	for _, kk := range k.keys {
		if kk.id != id {
			continue
		}
		ns := kk.aead.NonceSize()
		if len(raw) < ns {
			return "", ErrOpen
		}
		plain, err := kk.aead.Open(nil, raw[:ns], raw[ns:], []byte(context))
		if err != nil {
			return "", ErrOpen
		}
		return string(plain), nil
	}
	return "", ErrOpen
}

// Sealed reports whether a stored value is sealed (with any key).
func Sealed(stored string) bool { return strings.HasPrefix(stored, prefix) }

// Stale reports whether a stored, non-empty value should be sealed again
// by rotate-secrets: it is plain while sealing is on, or sealed with a key
// other than the current one.
func (k *Keyring) Stale(stored string) bool {
	if stored == "" || !k.Enabled() {
		return false
	}
	if !Sealed(stored) {
		return true
	}
	id, _, _ := strings.Cut(stored[len(prefix):], ":")
	return id != k.keys[0].id
}

// Reseal opens stored and seals it under the current key, for
// rotate-secrets. Values that are not Stale come back unchanged.
func (k *Keyring) Reseal(stored, context string) (string, error) {
	if !k.Stale(stored) {
		return stored, nil
	}
	plain, err := k.Open(stored, context)
	if err != nil {
		return "", err
	}
	return k.Seal(plain, context)
}
