package outbound

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func sampleAttempt(d Delivery, started time.Time) Attempt {
	return Attempt{Number: 1, StartedAt: started, Method: "POST", URL: d.URL,
		Request: map[string]string{
			"Content-Type": "application/json", "User-Agent": "Hookline/1.4.0",
			"Webhook-Id": d.EventID, "Webhook-Timestamp": "1796140712", "Webhook-Signature": Redacted,
			"Signature": Redacted, "Idempotency-Key": d.EventID, "Hookline-Event-Id": d.EventID,
			"Hookline-Delivery-Id": d.ID, "Hookline-Chain": "chn_01m8s58h0e5ph0b3d872ymj5x5", "Hookline-Hop": "0",
		},
		StatusCode: 204, Response: map[string]string{"Date": "Tue, 01 Dec 2026 15:58:32 GMT"},
		DurationMS: 3, Trigger: "schedule"}
}

var sampleDelivery = Delivery{ID: "dlv_01m8s58h0e1jaxp543700v4rtf", EventID: "evt_01m8s58h0e5ph0b3d876x2xj63",
	URL: "https://hooks.example.com/in?tenant=7"}

var sampleStart = time.Date(2026, 12, 1, 15, 58, 32, 995e6, time.UTC) // Unix second 1796140712

func roundTrip(t *testing.T, a Attempt, d Delivery) {
	t.Helper()
	got, err := decodeAttempt(encodeAttempt(a, d), d)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("decoded %+v\nwant    %+v\nstored  %s", got, a, encodeAttempt(a, d))
	}
}

// Decoding gives back the attempt as it was logged, whichever headers were
// derived, changed, absent or added.
func TestAttemptLog_RoundTrip(t *testing.T) {
	d := sampleDelivery
	roundTrip(t, sampleAttempt(d, sampleStart), d)

	// A webhook's own header replaces a derived one: the value sent is kept.
	a := sampleAttempt(d, sampleStart)
	a.Request["Idempotency-Key"] = "tenant-7"
	a.Request["X-Tenant"] = "studio-1"
	a.Request["Authorization"] = Redacted
	a.Request["X-Empty"] = "" // a configured header may be empty, and is sent
	roundTrip(t, a, d)

	// A GET has no Content-Type; a chain that could not be sent is absent.
	a = sampleAttempt(d, sampleStart)
	a.Method = "GET"
	delete(a.Request, "Content-Type")
	delete(a.Request, "Hookline-Chain")
	roundTrip(t, a, d)

	// Signed in the second after the attempt's start.
	a = sampleAttempt(d, sampleStart)
	a.Request["Webhook-Timestamp"] = "1796140713"
	roundTrip(t, a, d)

	// Sent to an earlier URL, failed, redelivered, with a body.
	a = sampleAttempt(d, sampleStart)
	a.URL, a.StatusCode, a.Body, a.Truncated = "https://old.example.com/x", 500, "oops", true
	a.ErrorClass, a.Error, a.Trigger, a.Number = "http_status", "HTTP 500", "redeliver", 3
	roundTrip(t, a, d)

	// A connection that failed: no response.
	a = sampleAttempt(d, sampleStart)
	a.StatusCode, a.Response, a.ErrorClass, a.Error = 0, nil, "connection_refused", "refused"
	roundTrip(t, a, d)

	// Never sent (the webhook's secret unreadable): no request either.
	roundTrip(t, Attempt{Number: 2, StartedAt: sampleStart, Method: "POST", URL: d.URL,
		ErrorClass: ClassInternal, Error: "the webhook's secret is unreadable; rotate it", Trigger: "schedule"}, d)
	// Never tried (the webhook was deleted): no method, no URL; and the
	// values the stored form leaves out by default must not come back.
	roundTrip(t, Attempt{Number: 1, StartedAt: sampleStart, ErrorClass: "webhook_gone", Trigger: "redeliver"}, d)
	roundTrip(t, Attempt{Number: 1, StartedAt: sampleStart, Method: "PUT", URL: d.URL, Trigger: ""}, d)
}

// Attempts logged before the compact form are still read.
func TestAttemptLog_ReadsTheEarlierForm(t *testing.T) {
	a := sampleAttempt(sampleDelivery, sampleStart)
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeAttempt(raw, sampleDelivery)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("got %+v (%v), want %+v", got, err, a)
	}
}

// The point of the stored form: a plain 204 costs a third of the API's JSON.
func TestAttemptLog_StoredSize(t *testing.T) {
	a := sampleAttempt(sampleDelivery, sampleStart)
	full, _ := json.Marshal(a)
	stored := encodeAttempt(a, sampleDelivery)
	t.Logf("stored %d bytes, the API's JSON %d: %s", len(stored), len(full), stored)
	if len(stored) > 260 || 3*len(stored) > len(full) {
		t.Fatalf("stored %d bytes (API JSON %d), want at most 260 and a third", len(stored), len(full))
	}
}
