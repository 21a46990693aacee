package config_test

import (
	"strings"
	"testing"

	"github.com/hookline/hookline/app/config"
)

func TestIFTTT(t *testing.T) {
	full := map[string]string{
		"HOOKLINE_IFTTT_SERVICE_KEY":   "service-key-0123456789",
		"HOOKLINE_IFTTT_CLIENT_ID":     "ifttt",
		"HOOKLINE_IFTTT_CLIENT_SECRET": "client-secret-0123456789",
		"HOOKLINE_IFTTT_SERVICE_ID":    "studio_app",
	}
	c, err := config.Load(env(nil))
	if err != nil || c.IFTTT.Enabled() || c.IFTTT.RealtimeURL.String() != "https://realtime.ifttt.com" {
		t.Fatalf("default: %v, %+v; want off with realtime.ifttt.com", err, c.IFTTT)
	}
	c, err = config.Load(env(full))
	if err != nil || !c.IFTTT.Enabled() || c.IFTTT.ServiceID != "studio_app" || c.IFTTT.ClientID != "ifttt" {
		t.Fatalf("full: %v, %+v", err, c.IFTTT)
	}
	if s := c.String(); strings.Contains(s, "service-key-0123456789") || strings.Contains(s, "client-secret-0123456789") || !strings.Contains(s, "ifttt=true") {
		t.Fatalf("String() must not show IFTTT secrets and must say ifttt=true: %s", s)
	}

	tests := []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"key alone", map[string]string{"HOOKLINE_IFTTT_SERVICE_KEY": "service-key-0123456789"},
			[]string{"HOOKLINE_IFTTT_CLIENT_ID: is required", "HOOKLINE_IFTTT_CLIENT_SECRET: is required", "HOOKLINE_IFTTT_SERVICE_ID: is required"}},
		{"short secrets", map[string]string{"HOOKLINE_IFTTT_SERVICE_KEY": "short", "HOOKLINE_IFTTT_CLIENT_SECRET": "short"},
			[]string{"HOOKLINE_IFTTT_SERVICE_KEY: must be at least 16", "HOOKLINE_IFTTT_CLIENT_SECRET: must be at least 16"}},
		{"bad service id", map[string]string{"HOOKLINE_IFTTT_SERVICE_ID": "a/b"}, []string{"HOOKLINE_IFTTT_SERVICE_ID"}},
		{"bad realtime url", map[string]string{"HOOKLINE_IFTTT_REALTIME_URL": "ftp://x"}, []string{"HOOKLINE_IFTTT_REALTIME_URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range full {
				m[k] = v
			}
			if tc.name == "key alone" {
				m = map[string]string{}
			}
			for k, v := range tc.set {
				m[k] = v
			}
			_, err := config.Load(env(m))
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("got %v, want an error containing %q", err, w)
				}
			}
		})
	}

	c, err = config.Load(env(map[string]string{"HOOKLINE_IFTTT_REALTIME_URL": "http://127.0.0.1:9/base/"}))
	if err != nil || c.IFTTT.RealtimeURL.String() != "http://127.0.0.1:9/base" {
		t.Fatalf("realtime url: %v %v", err, c.IFTTT.RealtimeURL)
	}
}
