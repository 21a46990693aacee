// Package redact holds the one rule for hiding secrets in what Hookline
// shows: header values in delivery and inbound request logs, and in API
// responses. It knows nothing of HTTP servers.
package redact

import (
	"net/http"
	"net/url"
	"strings"
)

// Redacted is shown in place of a secret value.
const Redacted = "[redacted]"

// SensitiveHeader reports whether a header's value must not be shown in a
// log or API response: credentials, cookies, signatures, and anything named
// like a token, secret, key, password or session. Idempotency-Key is an id,
// not a secret, and stays readable so replays can be followed.
func SensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "idempotency-key":
		return false
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "webhook-signature", "signature":
		return true
	}
	for _, part := range []string{"key", "token", "secret", "signature", "password", "auth", "session"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// Headers flattens headers for a log, replacing sensitive values
// (SensitiveHeader, plus the extra names given) with Redacted.
func Headers(h http.Header, extra ...string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		val := strings.Join(v, ", ")
		if SensitiveHeader(k) || containsFold(extra, k) {
			val = Redacted
		}
		out[k] = val
	}
	return out
}

// HeaderMap returns a copy of configured headers (name → value) with every
// sensitive value replaced by Redacted, for showing a record's settings. It
// is never nil.
func HeaderMap(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if SensitiveHeader(k) {
			v = Redacted
		}
		out[k] = v
	}
	return out
}

func containsFold(names []string, name string) bool {
	for _, n := range names {
		if n != "" && strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// URL returns raw with every query value and any userinfo password
// replaced by Redacted, for showing a target URL (webhook URLs may carry
// a token in their query). A string that does not parse as a URL is
// returned as Redacted whole.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Redacted
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), Redacted)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{Redacted}
		}
		// Keep the order stable and the brackets readable.
		u.RawQuery = strings.ReplaceAll(q.Encode(), url.QueryEscape(Redacted), Redacted)
	}
	return u.String()
}
