package retry_test

import (
	"testing"
	"time"

	"github.com/hookline/hookline/app/retry"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		in   string
		want []time.Duration
		ok   bool
	}{
		{"5m,10m", []time.Duration{5 * time.Minute, 10 * time.Minute}, true},
		{" 1s , 24h ", []time.Duration{time.Second, 24 * time.Hour}, true},
		{"none", []time.Duration{}, true},
		{"", []time.Duration{}, true},
		{"500ms", nil, false},
		{"25h", nil, false},
		{"5m,soon", nil, false},
		{"1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s", nil, false},
	}
	for _, tc := range tests {
		got, err := retry.ParseList(tc.in)
		if (err == nil) != tc.ok || len(got) != len(tc.want) {
			t.Fatalf("%q: got %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("%q: got %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}
