// Package signing signs outbound requests the Standard Webhooks way
// (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256
// of "id.timestamp.body">) and with a plain hex HMAC of the body (the
// Signature header) for simple receivers. A secret is shown as
// whsec_<base64>; the HMAC key is its decoded bytes.
package signing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// NewSecret returns a fresh secret holding 32 random bytes.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("signing: crypto/rand failed: " + err.Error())
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Key decodes a whsec_ secret to its HMAC key bytes.
func Key(secret string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(b) == 0 {
		return nil, errors.New("signing: malformed secret")
	}
	return b, nil
}

// Signer holds the decoded keys of the secrets a webhook signs with: the
// current one first, then any previous one still inside its rotation window.
type Signer struct{ keys [][]byte }

// NewSigner decodes the secrets; malformed ones are an error.
func NewSigner(secrets ...string) (Signer, error) {
	var s Signer
	for _, sec := range secrets {
		k, err := Key(sec)
		if err != nil {
			return Signer{}, err
		}
		s.keys = append(s.keys, k)
	}
	if len(s.keys) == 0 {
		return Signer{}, errors.New("signing: no secret")
	}
	return s, nil
}

// StandardSignature is the webhook-signature header value: one "v1,<sig>"
// entry per secret, separated by spaces.
func (s Signer) StandardSignature(msgID string, timestamp int64, body []byte) string {
	ts := strconv.FormatInt(timestamp, 10)
	var b strings.Builder
	for i, k := range s.keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		m := hmac.New(sha256.New, k)
		m.Write([]byte(msgID))
		m.Write([]byte{'.'})
		m.Write([]byte(ts))
		m.Write([]byte{'.'})
		m.Write(body)
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return b.String()
}

// BodySignature is the Signature header value: hex HMAC-SHA256 of the raw
// body with the current secret.
func (s Signer) BodySignature(body []byte) string {
	m := hmac.New(sha256.New, s.keys[0])
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
