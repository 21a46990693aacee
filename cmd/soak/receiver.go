package main

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// behaviour is how the receiver answers one webhook's requests, as
// fractions of requests; the rest get a 200.
type behaviour struct {
	fail5xx, timeout, reset, slow float64
	// gone answers 410 to everything (the webhook is then deleted).
	gone bool
	// throttle answers this fraction with 429 and Retry-After: 1.
	throttle float64
	// down answers 503 to everything for this long from the start of
	// publishing (startOutages): a receiver that is away while events pile up.
	down time.Duration
}

// ack is one request the receiver answered with a 2xx.
type ack struct {
	at  time.Time
	seq int
}

// receiver records, per webhook path (with more than one account, the
// account's: /a<i>/main) and webhook-id (the event id), every
// request and every 2xx answer, and the event ids each publish sequence
// number arrived under.
type receiver struct {
	srv     *http.Server
	url     string
	timeout time.Duration // the webhooks' timeout; a "timeout" answer sleeps past it
	script  map[string]behaviour

	mu       sync.Mutex
	upAt     time.Time        // before it, behaviours with down answer 503
	requests map[string]int   // path → requests
	acks     map[string][]ack // path + " " + webhook-id → 2xx answers
	seqs     map[int]map[string]bool
	firsts   map[string]int // base path (every account's) → webhook-ids answered 2xx at least once
}

func newReceiver(script map[string]behaviour, timeout time.Duration) (*receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{url: "http://" + l.Addr().String(), script: script, timeout: timeout,
		requests: map[string]int{}, acks: map[string][]ack{}, seqs: map[int]map[string]bool{},
		firsts: map[string]int{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	path, id := req.URL.Path, req.Header.Get("webhook-id")
	r.mu.Lock()
	r.requests[path]++
	upAt := r.upAt
	r.mu.Unlock()
	b := r.script[basePath(path)]
	x := rand.Float64()
	switch {
	case b.down > 0 && (upAt.IsZero() || time.Now().Before(upAt)):
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case b.gone:
		w.WriteHeader(http.StatusGone)
		return
	case x < b.throttle:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	case x < b.fail5xx:
		w.WriteHeader(500 + rand.IntN(4))
		return
	case x < b.fail5xx+b.timeout:
		time.Sleep(r.timeout + 500*time.Millisecond)
		w.WriteHeader(http.StatusOK) // too late: Hookline gave up
		return
	case x < b.fail5xx+b.timeout+b.reset:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST, not FIN
				}
				_ = c.Close()
				return
			}
		}
	case x < b.fail5xx+b.timeout+b.reset+b.slow:
		w.WriteHeader(http.StatusOK)
		for i := 0; i < 5; i++ {
			_, _ = w.Write([]byte("ok "))
			w.(http.Flusher).Flush()
			time.Sleep(150 * time.Millisecond)
		}
		r.record(path, id, body)
		return
	}
	w.WriteHeader(http.StatusOK)
	r.record(path, id, body)
}

// startOutages starts the clock of the behaviours with down: publishing
// starts now. Until it is called they answer 503 (webhook set-up's test
// deliveries are retried like any other).
func (r *receiver) startOutages(now time.Time) {
	var longest time.Duration
	for _, b := range r.script {
		longest = max(longest, b.down)
	}
	r.mu.Lock()
	r.upAt = now.Add(longest)
	r.mu.Unlock()
}

func (r *receiver) record(path, id string, body []byte) {
	var ev struct {
		Data struct {
			Seq int `json:"seq"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	k := path + " " + id
	r.acks[k] = append(r.acks[k], ack{at: time.Now(), seq: ev.Data.Seq})
	if len(r.acks[k]) == 1 {
		r.firsts[basePath(path)]++
	}
	if ev.Data.Seq > 0 {
		if r.seqs[ev.Data.Seq] == nil {
			r.seqs[ev.Data.Seq] = map[string]bool{}
		}
		r.seqs[ev.Data.Seq][id] = true
	}
}

// snapshot copies the record.
func (r *receiver) snapshot() (map[string][]ack, map[int]map[string]bool, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	acks := make(map[string][]ack, len(r.acks))
	for k, v := range r.acks {
		acks[k] = append([]ack(nil), v...)
	}
	seqs := make(map[int]map[string]bool, len(r.seqs))
	for k, v := range r.seqs {
		m := make(map[string]bool, len(v))
		for id := range v {
			m[id] = true
		}
		seqs[k] = m
	}
	reqs := make(map[string]int, len(r.requests))
	for k, v := range r.requests {
		reqs[k] = v
	}
	return acks, seqs, reqs
}

// firstAcks is how many webhook-ids of a base path ("/main": every
// account's) were answered 2xx.
func (r *receiver) firstAcks(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firsts[path]
}

// requestCount is every request received so far, on every path.
func (r *receiver) requestCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.requests {
		n += v
	}
	return n
}
