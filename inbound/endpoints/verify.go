package endpoints

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/validate"
	"github.com/hookline/hookline/outbound/signing"
)

// DefaultTokenHeader carries a token verification's secret when the
// endpoint names neither a header nor a query parameter.
const DefaultTokenHeader = "X-Hookline-Token"

// Standard Webhooks headers.
const (
	headerWebhookID        = "Webhook-Id"
	headerWebhookTimestamp = "Webhook-Timestamp"
	headerWebhookSignature = "Webhook-Signature"
)

// VerificationInput is how a client sets an endpoint's verification.
// Secrets left empty are generated; either way they are shown once.
type VerificationInput struct {
	Type      string `json:"type" validate:"required,oneof=none token basic hmac standard_webhooks"`
	Header    string `json:"header" validate:"max=100"`
	Query     string `json:"query" validate:"max=100"`
	Username  string `json:"username" validate:"max=200"`
	Password  string `json:"password" validate:"max=500"`
	Secret    string `json:"secret" validate:"max=500"`
	Algorithm string `json:"algorithm" validate:"omitempty,oneof=sha256"`
	Encoding  string `json:"encoding" validate:"omitempty,oneof=hex base64"`
	Prefix    string `json:"prefix" validate:"max=50"`
}

var (
	queryName = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,100}$`)
)

// checkVerification turns a client's input into a Verification and the
// secret to show once ("" for none). Fields another type uses are refused,
// so a misread setting does not silently do nothing.
func checkVerification(in *VerificationInput) (Verification, string, []apperr.FieldError) {
	if in == nil {
		return Verification{Type: VerifyNone}, "", nil
	}
	var fields []apperr.FieldError
	bad := func(name, msg string) {
		fields = append(fields, apperr.FieldError{Field: "verification." + name, Message: msg})
	}
	used := map[string]bool{}
	use := func(names ...string) {
		for _, n := range names {
			used[n] = true
		}
	}
	v := Verification{Type: in.Type}
	var shown string
	switch in.Type {
	case VerifyNone:
	case VerifyToken:
		use("header", "query", "secret")
		switch {
		case in.Header != "" && in.Query != "":
			bad("query", "use a header or a query parameter, not both")
		case in.Query != "":
			if !queryName.MatchString(in.Query) {
				bad("query", "must be a query parameter name of letters, digits and ._~-")
			}
			v.Query = in.Query
		case in.Header != "":
			if !validate.HeaderName(in.Header) {
				bad("header", "is not a valid header name")
			}
			v.Header = http.CanonicalHeaderKey(in.Header)
		default:
			v.Header = DefaultTokenHeader
		}
		shown = secretOrNew(in.Secret, 24, 16, "secret", bad)
		v.Secret = sha256Hex(shown)
	case VerifyBasic:
		use("username", "password")
		if in.Username == "" || strings.ContainsAny(in.Username, ":\r\n") {
			bad("username", "is required for basic verification and cannot contain ':'")
		}
		v.Username = in.Username
		shown = secretOrNew(in.Password, 24, 8, "password", bad)
		v.Secret = sha256Hex(shown)
	case VerifyHMAC:
		use("header", "secret", "algorithm", "encoding", "prefix")
		if !validate.HeaderName(in.Header) {
			bad("header", "is required for hmac verification: the header carrying the signature, such as X-Signature")
		}
		v.Header = http.CanonicalHeaderKey(in.Header)
		v.Encoding = in.Encoding
		if v.Encoding == "" {
			v.Encoding = "hex"
		}
		if strings.ContainsAny(in.Prefix, "\r\n") {
			bad("prefix", "must be on one line")
		}
		v.Prefix = in.Prefix
		shown = secretOrNew(in.Secret, 32, 8, "secret", bad)
		v.Secret = shown
	case VerifyStandardWebhooks:
		use("secret")
		shown = in.Secret
		if shown == "" {
			shown = signing.NewSecret()
		} else if k, err := signing.Key(shown); err != nil || !strings.HasPrefix(shown, signing.SecretPrefix) || len(k) < 24 || len(k) > 64 {
			bad("secret", "must be a Standard Webhooks secret: whsec_ and the base64 of 24 to 64 bytes")
		}
		v.Secret = shown
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"header", in.Header != ""}, {"query", in.Query != ""}, {"username", in.Username != ""},
		{"password", in.Password != ""}, {"secret", in.Secret != ""}, {"algorithm", in.Algorithm != ""},
		{"encoding", in.Encoding != ""}, {"prefix", in.Prefix != ""},
	} {
		if f.set && !used[f.name] {
			bad(f.name, fmt.Sprintf("is not used by %s verification", in.Type))
		}
	}
	if len(fields) > 0 {
		return Verification{}, "", fields
	}
	return v, shown, nil
}

// secretOrNew returns the secret a client gave, reporting it to bad as
// field when it is shorter than min or not printable ASCII, or a new one of
// size random bytes when it gave none.
func secretOrNew(given string, size, min int, field string, bad func(name, msg string)) string {
	if given == "" {
		return ids.Secret(size)
	}
	if msg := checkSecret(given, min); msg != "" {
		bad(field, msg)
	}
	return given
}

func checkSecret(s string, min int) string {
	if len(s) < min {
		return fmt.Sprintf("must be at least %d characters (leave it out to have one generated)", min)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] > 0x7e {
			return "must be printable ASCII without spaces"
		}
	}
	return ""
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// sameHash compares a presented secret with a stored SHA-256 in constant time.
func sameHash(presented, storedHex string) bool {
	return subtle.ConstantTimeCompare([]byte(sha256Hex(presented)), []byte(storedHex)) == 1
}

// verify checks a post against the endpoint's verification. Every failure
// is a 401 saying what was missing or wrong, never what was expected.
func (v Verification) verify(sub Submission, now time.Time, tolerance time.Duration) error {
	switch v.Type {
	case VerifyNone, "":
		return nil
	case VerifyToken:
		var got string
		if v.Query != "" {
			got = sub.Query[v.Query]
			if got == "" {
				return apperr.Unauthorized(fmt.Sprintf("missing the %s query parameter", v.Query))
			}
		} else {
			got = sub.Header.Get(v.Header)
			if got == "" {
				return apperr.Unauthorized(fmt.Sprintf("missing the %s header", v.Header))
			}
			if v.Header == "Authorization" {
				if scheme, tok, ok := strings.Cut(got, " "); ok && strings.EqualFold(scheme, "bearer") {
					got = strings.TrimSpace(tok)
				}
			}
		}
		if !sameHash(got, v.Secret) {
			return apperr.Unauthorized("the token does not match")
		}
		return nil
	case VerifyBasic:
		h := sub.Header.Get("Authorization")
		scheme, enc, ok := strings.Cut(h, " ")
		if h == "" || !ok || !strings.EqualFold(scheme, "basic") {
			return apperr.Unauthorized("missing basic credentials in the Authorization header")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
		if err != nil {
			return apperr.Unauthorized("malformed basic credentials")
		}
		user, pass, _ := strings.Cut(string(raw), ":")
		// Both comparisons always run, so timing does not tell which part was wrong.
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(v.Username)) == 1
		passOK := sameHash(pass, v.Secret)
		if !userOK || !passOK {
			return apperr.Unauthorized("wrong username or password")
		}
		return nil
	case VerifyHMAC:
		got := strings.TrimSpace(sub.Header.Get(v.Header))
		if got == "" {
			return apperr.Unauthorized(fmt.Sprintf("missing the %s header", v.Header))
		}
		if v.Prefix != "" {
			if len(got) < len(v.Prefix) || !strings.EqualFold(got[:len(v.Prefix)], v.Prefix) {
				return apperr.Unauthorized(fmt.Sprintf("the %s header does not start with %q", v.Header, v.Prefix))
			}
			got = got[len(v.Prefix):]
		}
		sig, ok := decodeSignature(got, v.Encoding)
		if !ok {
			return apperr.Unauthorized(fmt.Sprintf("the %s header is not a %s signature", v.Header, v.Encoding))
		}
		m := hmac.New(sha256.New, []byte(v.Secret))
		m.Write(sub.Body)
		if !hmac.Equal(sig, m.Sum(nil)) {
			return apperr.Unauthorized("the signature does not match")
		}
		return nil
	case VerifyStandardWebhooks:
		id, ts, sigs := sub.Header.Get(headerWebhookID), sub.Header.Get(headerWebhookTimestamp), sub.Header.Get(headerWebhookSignature)
		for _, h := range [][2]string{{"webhook-id", id}, {"webhook-timestamp", ts}, {"webhook-signature", sigs}} {
			if h[1] == "" {
				return apperr.Unauthorized(fmt.Sprintf("missing the %s header", h[0]))
			}
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return apperr.Unauthorized("webhook-timestamp must be Unix seconds")
		}
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return apperr.Unauthorized(fmt.Sprintf("webhook-timestamp is more than %s from now: stale or replayed", tolerance))
		}
		signer, err := signing.NewSigner(v.Secret)
		if err != nil {
			return fmt.Errorf("endpoints: verification secret: %w", err)
		}
		want := signer.StandardSignature(id, sec, sub.Body)
		match := 0
		for _, entry := range strings.Fields(sigs) {
			match |= subtle.ConstantTimeCompare([]byte(entry), []byte(want))
		}
		if match != 1 {
			return apperr.Unauthorized("the signature does not match")
		}
		return nil
	}
	return fmt.Errorf("endpoints: unknown verification type %q", v.Type)
}

// decodeSignature decodes a hex (either case) or base64 (standard or URL
// alphabet, padded or not) signature.
func decodeSignature(s, encoding string) ([]byte, bool) {
	if encoding == "base64" {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				return b, true
			}
		}
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}
