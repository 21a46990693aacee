package redact_test

import (
	"net/http"
	"testing"

	"github.com/hookline/hookline/app/redact"
)

func TestHeaders(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer x"}, "X-Api-Key": {"k"}, "Idempotency-Key": {"evt_1"},
		"Content-Type": {"application/json"}, "X-Verify": {"s"}}
	got := redact.Headers(h, "x-verify", "")
	want := map[string]string{"Authorization": redact.Redacted, "X-Api-Key": redact.Redacted,
		"Idempotency-Key": "evt_1", "Content-Type": "application/json", "X-Verify": redact.Redacted}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	m := redact.HeaderMap(map[string]string{"X-Session-Id": "s", "X-Team": "blue"})
	if m["X-Session-Id"] != redact.Redacted || m["X-Team"] != "blue" {
		t.Errorf("HeaderMap = %v", m)
	}
	if redact.HeaderMap(nil) == nil {
		t.Error("HeaderMap(nil) is nil, want an empty map")
	}
}

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hooks.example.com/in?token=abc&x=1", "https://hooks.example.com/in?token=[redacted]&x=[redacted]"},
		{"https://hooks.example.com/a/b", "https://hooks.example.com/a/b"},
		{"https://u:p@h.example.com/", "https://u:%5Bredacted%5D@h.example.com/"},
		{"::not a url", "[redacted]"},
	}
	for _, tc := range tests {
		if got := redact.URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
