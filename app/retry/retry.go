// Package retry holds the one rule for a delivery's retry schedule: the
// waits before each retry, each from 1 s to 24 h, at most MaxRetries of
// them. The operator's default (HOOKLINE_RETRY_SCHEDULE) and each
// webhook's own retry_schedule are read with it.
package retry

import (
	"fmt"
	"strings"
	"time"
)

// Bounds of a schedule.
const (
	MinWait    = time.Second
	MaxWait    = 24 * time.Hour
	MaxRetries = 10
)

// Rule says what a wait must be, for error messages.
const Rule = "must be a duration from 1s to 24h, such as 5m"

// ParseWait parses one wait of a schedule.
func ParseWait(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < MinWait || d > MaxWait {
		return 0, fmt.Errorf("%q %s", strings.TrimSpace(s), Rule)
	}
	return d, nil
}

// ParseList parses a comma-separated schedule ("5m,10m"). "none" or ""
// is an empty schedule: one attempt, no retries.
func ParseList(s string) ([]time.Duration, error) {
	if v := strings.TrimSpace(s); v == "" || strings.EqualFold(v, "none") {
		return []time.Duration{}, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxRetries {
		return nil, fmt.Errorf("has %d waits; at most %d", len(parts), MaxRetries)
	}
	out := make([]time.Duration, 0, len(parts))
	for _, part := range parts {
		d, err := ParseWait(part)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
