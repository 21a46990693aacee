package outbound_test

import (
	"bytes"
	"context"
	"encoding/json"

	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/redistest"
	"github.com/hookline/hookline/outbound"
)

// benchReceivers is M, the number of local receivers every event goes to.
const benchReceivers = 4

// sink is a loopback receiver that counts deliveries and notes, per event
// id, when the first one arrived.
type sink struct {
	srv     *httptest.Server
	n       atomic.Int64
	mu      sync.Mutex
	arrived map[string]time.Time
}

func newSink(b *testing.B) *sink {
	s := &sink{arrived: map[string]time.Time{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if id := r.Header.Get("webhook-id"); id != "" {
			now := time.Now()
			s.mu.Lock()
			if _, ok := s.arrived[id]; !ok {
				s.arrived[id] = now
			}
			s.mu.Unlock()
		}
		s.n.Add(1)
		w.WriteHeader(204)
	}))
	b.Cleanup(s.srv.Close)
	return s
}

func waitCount(b *testing.B, sinks []*sink, want int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		var got int64
		for _, s := range sinks {
			got += s.n.Load()
		}
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d deliveries arrived within %s", got, want, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkEndToEnd publishes b.N events of 1 KB to an account whose
// benchReceivers active webhooks all subscribe to them, and waits until
// every delivery arrived at its loopback receiver. In the same run a bare
// Asynq baseline enqueues the same number of tasks whose handler makes one
// plain HTTP POST of the same body, so the ratio Hookline/baseline is
// reported. allocs/delivery counts the whole process (publisher, Asynq,
// receivers).
func BenchmarkEndToEnd(b *testing.B) {
	if b.N < 100 {
		b.N = 100 // too few events say nothing about throughput
	}
	n := b.N
	api := apitest.New(b)
	acct := api.NewAccount("Bench")
	api.Do("POST", "/v1/event-types", acct.Key, map[string]any{"name": "job.completed", "description": "bench"}).Want(201)
	sinks := make([]*sink, benchReceivers)
	for i := range sinks {
		sinks[i] = newSink(b)
		id := api.Do("POST", "/v1/webhooks", acct.Key, map[string]any{"name": "bench", "url": sinks[i].srv.URL, "events": []string{"job.completed"}}).Want(201).Str("id")
		api.Do("PATCH", "/v1/webhooks/"+id, acct.Key, map[string]any{"active": true}).Want(200)
	}
	api.StartWorker()
	waitCount(b, sinks, benchReceivers, 30*time.Second) // the activation test events
	for _, s := range sinks {
		s.n.Store(0)
		s.arrived = map[string]time.Time{}
	}
	p, err := api.Server.Accounts.Authenticate(context.Background(), acct.Key)
	if err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(`{"job_id":"J-1","notes":"` + strings.Repeat("x", 1000) + `"}`)

	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	published := make(map[string]time.Time, n)
	var pubMu sync.Mutex
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	var next atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				at := time.Now()
				ev, err := api.Server.Events.Publish(context.Background(), p, "job.completed", data, events.Cause{})
				if err != nil {
					b.Error(err)
					return
				}
				pubMu.Lock()
				published[ev.ID] = at
				pubMu.Unlock()
			}
		}()
	}
	wg.Wait()
	pubDone := time.Since(start)
	waitCount(b, sinks, int64(n*benchReceivers), 10*time.Minute)
	total := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)

	var lat []time.Duration
	for _, s := range sinks {
		s.mu.Lock()
		for id, at := range s.arrived {
			if p, ok := published[id]; ok {
				lat = append(lat, at.Sub(p))
			}
		}
		s.mu.Unlock()
	}
	slices.Sort(lat)
	deliveries := float64(n * benchReceivers)
	hookRate := deliveries / total.Seconds()
	b.ReportMetric(float64(n)/pubDone.Seconds(), "published/s")
	b.ReportMetric(hookRate, "delivered/s")
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/deliveries, "allocs/delivery")

	base := asynqBaseline(b, n*benchReceivers, data)
	b.ReportMetric(base, "baseline-delivered/s")
	b.ReportMetric(hookRate/base, "ratio")
}

// asynqBaseline is bare Asynq on its own Redis database: enqueue tasks
// while a server with the same settings runs handlers that POST the body
// to a loopback receiver. It returns deliveries per second.
func asynqBaseline(b *testing.B, tasks int, body []byte) float64 {
	rdb := redistest.Client(b)
	s := newSink(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	mux := asynq.NewServeMux()
	mux.HandleFunc("baseline", func(ctx context.Context, t *asynq.Task) error {
		req, _ := http.NewRequestWithContext(ctx, "POST", s.srv.URL, bytes.NewReader(t.Payload()))
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return nil
	})
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 50, TaskCheckInterval: 50 * time.Millisecond,
		Queues: map[string]int{outbound.DefaultQueue: 1}, LogLevel: asynq.ErrorLevel})
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	q := asynq.NewClientFromRedisClient(rdb)
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(tasks) {
				if _, err := q.Enqueue(asynq.NewTask("baseline", body), asynq.Queue(outbound.DefaultQueue), asynq.MaxRetry(0)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitCount(b, []*sink{s}, int64(tasks), 10*time.Minute)
	return float64(tasks) / time.Since(start).Seconds()
}
