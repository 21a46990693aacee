package outbound

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"
)

// The stored form of a logged attempt. Every retained delivery keeps one
// per attempt, so its size is most of what a delivery costs Redis beyond
// its event: the API's JSON form (Attempt) came to about 740 bytes for a
// 204 with no body, of which 480 were request headers. The stored form
// has short names, leaves out empty values, and leaves out the request
// headers whose values follow from the delivery itself (derivedHeaders) —
// only when the value sent was exactly that, so decoding gives back the
// headers as sent. It is about 230 bytes for the same attempt
// (TestAttemptLog_StoredSize).
//
// Attempts stored before this form (the API's JSON, with "number") are
// still read: decodeAttempt tells them apart by the version field.
type storedAttempt struct {
	V        int               `json:"v"` // attemptLogVersion
	Number   int               `json:"n"`
	Started  int64             `json:"at"`           // Unix ms
	Method   string            `json:"m,omitempty"`  // when not POST (storedDefault)
	URL      string            `json:"u"`            // kept: the delivery's url is the last attempt's
	Request  map[string]string `json:"q,omitempty"`  // headers not derived
	Absent   []string          `json:"x,omitempty"`  // derived headers not sent
	Unsent   bool              `json:"nq,omitempty"` // no request was built
	TS       int64             `json:"ts,omitempty"` // webhook-timestamp, when not Started's second
	Status   int               `json:"s,omitempty"`
	Response map[string]string `json:"r,omitempty"`
	Body     string            `json:"b,omitempty"`
	Trunc    bool              `json:"bt,omitempty"`
	Duration int64             `json:"d,omitempty"` // ms
	Class    string            `json:"ec,omitempty"`
	Error    string            `json:"e,omitempty"`
	Trigger  string            `json:"t,omitempty"` // when not "schedule" (storedDefault)
}

const attemptLogVersion = 2

// derivedHeaders are the request headers send sets from the delivery
// alone: their values need not be stored. ts is the signature's timestamp.
// Signatures are logged redacted, so their logged value is derived too.
func derivedHeaders(d Delivery, ts int64) map[string]string {
	return map[string]string{
		"Content-Type":         "application/json",
		"Webhook-Id":           d.EventID,
		"Webhook-Timestamp":    strconv.FormatInt(ts, 10),
		"Webhook-Signature":    Redacted,
		"Signature":            Redacted,
		"Idempotency-Key":      d.EventID,
		"Hookline-Event-Id":    d.EventID,
		"Hookline-Delivery-Id": d.ID,
	}
}

// encodeAttempt is the stored form of att, an attempt of d.
func encodeAttempt(att Attempt, d Delivery) []byte {
	st := storedAttempt{V: attemptLogVersion, Number: att.Number, Started: att.StartedAt.UnixMilli(),
		URL: att.URL, Status: att.StatusCode, Response: att.Response, Body: att.Body, Trunc: att.Truncated,
		Duration: att.DurationMS, Class: att.ErrorClass, Error: att.Error}
	st.Method = storedDefault(att.Method, "POST")
	st.Trigger = storedDefault(att.Trigger, "schedule")
	ts := att.StartedAt.Unix()
	if v, ok := att.Request["Webhook-Timestamp"]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n != ts {
			ts, st.TS = n, n
		}
	}
	derived := derivedHeaders(d, ts)
	for k, v := range att.Request {
		if dv, ok := derived[k]; ok && dv == v {
			continue
		}
		if st.Request == nil {
			st.Request = make(map[string]string, len(att.Request))
		}
		st.Request[k] = v
	}
	st.Unsent = att.Request == nil
	if !st.Unsent {
		for k := range derived {
			if _, sent := att.Request[k]; !sent {
				st.Absent = append(st.Absent, k)
			}
		}
		sort.Strings(st.Absent)
	}
	raw, _ := json.Marshal(st) // strings, ints and maps of strings: cannot fail
	return raw
}

// storedDefault leaves out v when it is the common value def; an empty v
// (an attempt never sent has no method) is stored as "-" so that it does
// not read back as def.
func storedDefault(v, def string) string {
	switch v {
	case def:
		return ""
	case "":
		return "-"
	}
	return v
}

// readDefault undoes storedDefault.
func readDefault(v, def string) string {
	switch v {
	case "":
		return def
	case "-":
		return ""
	}
	return v
}

// decodeAttempt reads an attempt of d in either stored form.
func decodeAttempt(raw []byte, d Delivery) (Attempt, error) {
	var st storedAttempt
	if err := json.Unmarshal(raw, &st); err != nil {
		return Attempt{}, err
	}
	if st.V == 0 {
		var a Attempt // the form before attemptLogVersion 2
		err := json.Unmarshal(raw, &a)
		return a, err
	}
	a := Attempt{Number: st.Number, StartedAt: time.UnixMilli(st.Started).UTC(), Method: st.Method, URL: st.URL,
		StatusCode: st.Status, Response: st.Response, Body: st.Body, Truncated: st.Trunc, DurationMS: st.Duration,
		ErrorClass: st.Class, Error: st.Error, Trigger: st.Trigger}
	a.Method, a.Trigger = readDefault(st.Method, "POST"), readDefault(st.Trigger, "schedule")
	if a.Response == nil && a.StatusCode != 0 {
		a.Response = map[string]string{} // a response with no header at all
	}
	if !st.Unsent {
		a.Request = make(map[string]string, len(st.Request)+8)
		for k, v := range st.Request {
			a.Request[k] = v
		}
		ts := a.StartedAt.Unix()
		if st.TS != 0 {
			ts = st.TS
		}
		absent := make(map[string]bool, len(st.Absent))
		for _, k := range st.Absent {
			absent[k] = true
		}
		for k, v := range derivedHeaders(d, ts) {
			if _, own := a.Request[k]; !own && !absent[k] {
				a.Request[k] = v
			}
		}
	}
	return a, nil
}
