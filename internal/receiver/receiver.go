// Package receiver is a real HTTP endpoint on 127.0.0.1 for delivery tests:
// it answers with a scripted sequence of responses and records every request.
package receiver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Reply is one scripted answer.
type Reply struct {
	Status  int
	Headers map[string]string
	Body    string
	// Hold, when set, blocks the answer until it is closed or the request ends.
	Hold chan struct{}
}

// Request is one recorded request.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	At     time.Time
}

// Receiver records requests and answers from its script; past the end of
// the script it repeats the last reply (200 when the script is empty).
type Receiver struct {
	*httptest.Server
	mu      sync.Mutex
	script  []Reply
	reqs    []Request
	arrived chan struct{}
}

// New starts a plain-HTTP receiver, closed at cleanup.
func New(t testing.TB, script ...Reply) *Receiver {
	r := &Receiver{script: script, arrived: make(chan struct{}, 1024)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// NewTLS starts an HTTPS receiver with httptest's self-signed certificate.
func NewTLS(t testing.TB, script ...Reply) *Receiver {
	r := &Receiver{script: script, arrived: make(chan struct{}, 1024)}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// Statuses is a script of bare statuses.
func Statuses(codes ...int) []Reply {
	out := make([]Reply, len(codes))
	for i, c := range codes {
		out[i] = Reply{Status: c}
	}
	return out
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	n := len(r.reqs)
	r.reqs = append(r.reqs, Request{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone(), Body: body, At: time.Now()})
	reply := Reply{Status: 200}
	if len(r.script) > 0 {
		reply = r.script[min(n, len(r.script)-1)]
	}
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	if reply.Hold != nil {
		select {
		case <-reply.Hold:
		case <-req.Context().Done():
			return
		}
	}
	for k, v := range reply.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(reply.Status)
	_, _ = io.WriteString(w, reply.Body)
}

// Requests returns a copy of what arrived so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Count is how many requests arrived.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// WaitFor polls until at least n requests arrived, failing t after timeout.
func (r *Receiver) WaitFor(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	deadline := time.After(timeout)
	for r.Count() < n {
		select {
		case <-r.arrived:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("receiver got %d requests, want %d within %s", r.Count(), n, timeout)
		}
	}
	return r.Requests()
}
