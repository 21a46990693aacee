package httpapi

import "time"

// Time renders a time for JSON: RFC 3339 in UTC; nil for the zero time.
func Time(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
