package inbound

import "testing"

func TestIncident_Message(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		inc  Incident
		want string
	}{
		{"key, paused", Incident{Status: "open", Resource: "cus_1", Credential: "key_1", Paused: "key:key_1", Suppressed: 3},
			"API key key_1 kept writing back states of cus_1 that Hookline had just sent it; 3 such writes were suppressed. It is paused until this incident is resolved."},
		{"endpoint, resolved", Incident{Status: "resolved", Resource: "cus_2", Endpoint: "inb_1", Paused: "endpoint:inb_1", Suppressed: 4},
			"inbound endpoint inb_1 kept writing back states of cus_2 that Hookline had just sent it; 4 such writes were suppressed."},
		{"unknown writer", Incident{Status: "open", Resource: "cus_3", Suppressed: 1},
			"a writer kept writing back states of cus_3 that Hookline had just sent it; 1 such writes were suppressed."},
	} {
		if got := tc.inc.Message(); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
