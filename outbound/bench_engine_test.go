package outbound_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/redistest"
	"github.com/hookline/hookline/outbound"
)

// BenchmarkEngine is `make bench`: every scenario of issue 11 once, each
// beside a bare Asynq+HTTP baseline run in the same process on the same
// Redis, printed as one table at the end. b.N is ignored (run it with
// -benchtime=1x). HOOKLINE_BENCH_SCALE=0.2 shortens every scenario.
func BenchmarkEngine(b *testing.B) {
	scale := 1.0
	if v, err := strconv.ParseFloat(os.Getenv("HOOKLINE_BENCH_SCALE"), 64); err == nil && v > 0 {
		scale = v
	}
	sc := func(n int) int { return max(50, int(float64(n)*scale)) }
	var rows []benchRow
	run := func(name string, f func(b *testing.B) []benchRow) {
		b.Run(name, func(b *testing.B) { rows = append(rows, f(b)...) })
	}
	run("drain", func(b *testing.B) []benchRow { return benchDrain(b, sc(5000), 0) })
	// The same drain with as many requests open as the baseline's handlers.
	run("drain50", func(b *testing.B) []benchRow { return benchDrain(b, sc(5000), 50) })
	run("fanout", func(b *testing.B) []benchRow { return benchFanout(b, sc(500), 20) })
	run("latency150", func(b *testing.B) []benchRow { return benchLatency(b, 150, sc(15*150)) })
	run("latency1000", func(b *testing.B) []benchRow { return benchLatency(b, 1000, sc(15*1000)) })
	run("memory", func(b *testing.B) []benchRow { return benchMemory(b, sc(2000)) })
	run("create", func(b *testing.B) []benchRow { return benchCreate(b, time.Duration(float64(3*time.Second)*scale)) })
	run("isolation", func(b *testing.B) []benchRow { return benchIsolation(b, sc(1000)) })
	printRows(rows)
}

type benchRow struct {
	scenario, hook, base, ratio, lat, mem, rt, cpu string
}

// cpuUse is CPU time so far: this process's (gateway, receivers and
// publishers alike) and the Redis server's (INFO cpu).
type cpuUse struct{ proc, redis time.Duration }

func cpuNow(b *testing.B, rdb redis.UniversalClient) cpuUse {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	c := cpuUse{proc: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(l, f); ok {
				sec, _ := strconv.ParseFloat(v, 64)
				c.redis += time.Duration(sec * float64(time.Second))
			}
		}
	}
	return c
}

// profileTo starts a CPU profile of the part of a scenario that is the
// gateway's alone (HOOKLINE_BENCH_PROFILE=file; go test's -cpuprofile would
// mix in the publishers and the baseline). It returns the stop.
func profileTo(b *testing.B, path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// since is the CPU per item used since c0.
func (c cpuUse) since(c0 cpuUse, n int) cpuUse {
	return cpuUse{proc: (c.proc - c0.proc) / time.Duration(n), redis: (c.redis - c0.redis) / time.Duration(n)}
}

func (c cpuUse) vs(base cpuUse) string {
	us := func(d time.Duration) string { return strconv.Itoa(int(d.Microseconds())) }
	return fmt.Sprintf("%s + %s µs (base %s + %s)", us(c.proc), us(c.redis), us(base.proc), us(base.redis))
}

func printRows(rows []benchRow) {
	head := benchRow{"scenario", "Hookline", "baseline", "ratio", "p50 / p99", "memory", "Redis RT", "CPU per delivery: process + Redis"}
	all := append([]benchRow{head}, rows...)
	cols := func(r benchRow) []string {
		return []string{r.scenario, r.hook, r.base, r.ratio, r.lat, r.mem, r.rt, cmp.Or(r.cpu, "-")}
	}
	w := make([]int, 8)
	for _, r := range all {
		for i, c := range cols(r) {
			w[i] = max(w[i], len(c))
		}
	}
	var sb strings.Builder
	for i, r := range all {
		sb.WriteString("|")
		for j, c := range cols(r) {
			fmt.Fprintf(&sb, " %-*s |", w[j], c)
		}
		sb.WriteString("\n")
		if i == 0 {
			sb.WriteString("|")
			for j := range w {
				sb.WriteString(" " + strings.Repeat("-", w[j]) + " |")
			}
			sb.WriteString("\n")
		}
	}
	fmt.Print("\n" + sb.String())
}

// rtCounter counts Redis round trips: one per command, one per pipeline.
type rtCounter struct{ n atomic.Int64 }

func (c *rtCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *rtCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *rtCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// arrivals is a loopback receiver keyed by (path, webhook-id or X-Id); delay
// holds each answer, and inFlight/maxInFlight tell how many were open at once.
type arrivals struct {
	srv                   *httptest.Server
	n                     atomic.Int64
	inFlight, maxInFlight atomic.Int64
	mu                    sync.Mutex
	at                    map[string]time.Time
}

func newArrivals(b *testing.B, delay time.Duration) *arrivals {
	a := &arrivals{at: map[string]time.Time{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		n := a.inFlight.Add(1)
		for m := a.maxInFlight.Load(); n > m && !a.maxInFlight.CompareAndSwap(m, n); m = a.maxInFlight.Load() {
		}
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("webhook-id") + r.Header.Get("X-Id")
		a.mu.Lock()
		if _, ok := a.at[r.URL.Path+id]; !ok {
			a.at[r.URL.Path+id] = now
		}
		a.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		a.inFlight.Add(-1)
		a.n.Add(1)
		w.WriteHeader(204)
	}))
	b.Cleanup(a.srv.Close)
	return a
}

func (a *arrivals) reset() {
	a.mu.Lock()
	a.at = map[string]time.Time{}
	a.mu.Unlock()
	a.n.Store(0)
	a.maxInFlight.Store(0)
}

func (a *arrivals) wait(b *testing.B, want int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for a.n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d deliveries arrived within %s", a.n.Load(), want, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// latencies pairs arrivals with send times (key without path → every path).
func (a *arrivals) latencies(sent map[string]time.Time) []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []time.Duration
	for k, at := range a.at {
		i := strings.LastIndexByte(k, '/')
		rest := k[i+1:]
		if j := strings.Index(rest, "evt_"); j > 0 {
			rest = rest[j:]
		}
		for _, id := range []string{k[i+1:], rest} {
			if t, ok := sent[id]; ok {
				out = append(out, at.Sub(t))
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

func pct(l []time.Duration) string {
	if len(l) == 0 {
		return "-"
	}
	f := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) }
	return f(l[len(l)/2]) + " / " + f(l[len(l)*99/100]) + " ms"
}

var benchData = json.RawMessage(`{"job_id":"J-1","notes":"` + strings.Repeat("x", 1000) + `"}`)

// engine is a gateway with one account, its key's principal, one event type
// and a Redis round-trip counter on the gateway's client.
type engine struct {
	api  *apitest.API
	acct apitest.Account
	p    auth.Principal
	rt   *rtCounter
}

func newEngine(b *testing.B, opts ...apitest.Option) *engine {
	api := apitest.New(b, opts...)
	e := &engine{api: api, acct: api.NewAccount("Bench"), rt: &rtCounter{}}
	api.Do("POST", "/v1/event-types", e.acct.Key, map[string]any{"name": "job.completed", "description": "bench"}).Want(201)
	p, err := api.Server.Accounts.Authenticate(context.Background(), e.acct.Key)
	if err != nil {
		b.Fatal(err)
	}
	e.p = p
	api.Server.Redis.AddHook(e.rt)
	return e
}

func (e *engine) webhook(url string, extra map[string]any) string {
	body := map[string]any{"name": "bench", "url": url, "events": []string{"job.completed"}}
	for k, v := range extra {
		body[k] = v
	}
	id := e.api.Do("POST", "/v1/webhooks", e.acct.Key, body).Want(201).Str("id")
	e.api.Do("PATCH", "/v1/webhooks/"+id, e.acct.Key, map[string]any{"active": true}).Want(200)
	return id
}

// publish sends n events from 8 goroutines and returns each one's send time.
func (e *engine) publish(b *testing.B, n int) map[string]time.Time {
	sent := make(map[string]time.Time, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				at := time.Now()
				ev, err := e.api.Server.Events.Publish(context.Background(), e.p, "job.completed", benchData, events.Cause{})
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				sent[ev.ID] = at
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return sent
}

func mallocs() (uint64, uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs, ms.TotalAlloc
}

func perDelivery(m0, b0 uint64, n int) string {
	m1, b1 := mallocs()
	return fmt.Sprintf("%d allocs, %.1f KB", (m1-m0)/uint64(n), float64(b1-b0)/float64(n)/1024)
}

func rate(n int, d time.Duration) string { return strconv.Itoa(int(float64(n)/d.Seconds())) + "/s" }

func ratio(a, b float64) string { return strconv.FormatFloat(a/b, 'f', 2, 64) }

// benchDrain: n events published to one webhook while no worker runs, then
// the worker drains them; the baseline drains n pre-enqueued tasks. inFlight
// is the webhook's max_in_flight (0: the default, 10).
func benchDrain(b *testing.B, n, inFlight int) []benchRow {
	var opts []apitest.Option
	var extra map[string]any
	name := fmt.Sprintf("drain, 1 webhook, %d events", n)
	if inFlight > 0 {
		// The account's cap (HOOKLINE_ACCOUNT_IN_FLIGHT, default 20) is
		// raised with it, or it would bind first.
		opts = append(opts, apitest.WithEnv("HOOKLINE_ACCOUNT_IN_FLIGHT", strconv.Itoa(inFlight)))
		extra = map[string]any{"max_in_flight": inFlight}
		name = fmt.Sprintf("drain, 1 webhook at max_in_flight %d (account cap %d), %d events", inFlight, inFlight, n)
	}
	e := newEngine(b, opts...)
	sink := newArrivals(b, 0)
	e.webhook(sink.srv.URL, extra) // its activation test waits in the queue too
	e.publish(b, n)
	e.rt.n.Store(0)
	m0, b0 := mallocs()
	c0 := cpuNow(b, e.api.Server.Redis)
	stopProfile := profileTo(b, os.Getenv("HOOKLINE_BENCH_PROFILE"))
	start := time.Now()
	e.api.StartWorker()
	sink.wait(b, int64(n+1), 5*time.Minute)
	took := time.Since(start)
	stopProfile()
	cpu := cpuNow(b, e.api.Server.Redis).since(c0, n)
	mem := perDelivery(m0, b0, n)
	rts := float64(e.rt.n.Load()) / float64(n)
	base, baseRT, baseCPU := baselineDrain(b, n)
	hook := float64(n) / took.Seconds()
	return []benchRow{{name, rate(n, took), strconv.Itoa(int(base)) + "/s", ratio(hook, base), "-", mem,
		fmt.Sprintf("%.1f (base %.1f)", rts, baseRT), cpu.vs(baseCPU)}}
}

// benchFanout: events to m webhooks on one receiver, worker running; the
// baseline enqueues as many tasks while draining.
func benchFanout(b *testing.B, events, m int) []benchRow {
	e := newEngine(b)
	sink := newArrivals(b, 0)
	for i := range m {
		e.webhook(sink.srv.URL+"/w"+strconv.Itoa(i), nil)
	}
	e.api.StartWorker()
	sink.wait(b, int64(m), time.Minute)
	sink.reset()
	e.rt.n.Store(0)
	m0, b0 := mallocs()
	c0 := cpuNow(b, e.api.Server.Redis)
	start := time.Now()
	sent := e.publish(b, events)
	pub := time.Since(start)
	sink.wait(b, int64(events*m), 5*time.Minute)
	took := time.Since(start)
	n := events * m
	cpu := cpuNow(b, e.api.Server.Redis).since(c0, n)
	mem := perDelivery(m0, b0, n)
	rts := float64(e.rt.n.Load()) / float64(n)
	base, baseRT, baseCPU := baselineConcurrent(b, n)
	hook := float64(n) / took.Seconds()
	return []benchRow{
		{fmt.Sprintf("fan-out, %d events × %d webhooks", events, m), rate(n, took), strconv.Itoa(int(base)) + "/s", ratio(hook, base),
			pct(sink.latencies(sent)), mem, fmt.Sprintf("%.2f (base %.1f)", rts, baseRT), cpu.vs(baseCPU)},
		{"  … publish of those events", rate(events, pub), "-", "-", "-", "-", "-", "-"},
	}
}

// benchLatency publishes open-loop at perSecond to one webhook.
func benchLatency(b *testing.B, perSecond, n int) []benchRow {
	e := newEngine(b)
	sink := newArrivals(b, 0)
	e.webhook(sink.srv.URL, nil)
	e.api.StartWorker()
	sink.wait(b, 1, time.Minute)
	sink.reset()
	var mu sync.Mutex
	sent := make(map[string]time.Time, n)
	openLoop(perSecond, n, func() {
		at := time.Now()
		ev, err := e.api.Server.Events.Publish(context.Background(), e.p, "job.completed", benchData, events.Cause{})
		if err != nil {
			b.Error(err)
			return
		}
		mu.Lock()
		sent[ev.ID] = at
		mu.Unlock()
	})
	sink.wait(b, int64(n), time.Minute)
	baseLat := baselineOpenLoop(b, perSecond, n)
	return []benchRow{{fmt.Sprintf("latency, open loop %d/s × %d s", perSecond, n/perSecond), "p99 " + pct99(sink.latencies(sent)), "p99 " + pct99(baseLat),
		"-", pct(sink.latencies(sent)) + " (base " + pct(baseLat) + ")", "-", "-", ""}}
}

func pct99(l []time.Duration) string {
	if len(l) == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(l[len(l)*99/100].Microseconds())/1000, 'f', 1, 64) + " ms"
}

// openLoop calls f n times at perSecond, each in its own goroutine, on a
// schedule that does not wait for earlier calls.
func openLoop(perSecond, n int, f func()) {
	start := time.Now()
	interval := time.Second / time.Duration(perSecond)
	var wg sync.WaitGroup
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	wg.Wait()
}

// benchIsolation: a slow (300 ms) and a fast receiver on the same events
// at 100/s; the fast one's latency, the slow one's rate against its cap.
func benchIsolation(b *testing.B, n int) []benchRow {
	const perSecond, capSlow = 100, 10
	e := newEngine(b)
	slow, fast := newArrivals(b, 300*time.Millisecond), newArrivals(b, 0)
	e.webhook(slow.srv.URL, map[string]any{"max_in_flight": capSlow})
	e.webhook(fast.srv.URL, nil)
	e.api.StartWorker()
	slow.wait(b, 1, time.Minute)
	fast.wait(b, 1, time.Minute)
	slow.reset()
	fast.reset()
	var mu sync.Mutex
	sent := make(map[string]time.Time, n)
	start := time.Now()
	openLoop(perSecond, n, func() {
		at := time.Now()
		ev, err := e.api.Server.Events.Publish(context.Background(), e.p, "job.completed", benchData, events.Cause{})
		if err != nil {
			b.Error(err)
			return
		}
		mu.Lock()
		sent[ev.ID] = at
		mu.Unlock()
	})
	fast.wait(b, int64(n), time.Minute)
	took := time.Since(start)
	slowRate := float64(slow.n.Load()) / took.Seconds()
	ideal := float64(capSlow) / 0.3
	return []benchRow{
		{fmt.Sprintf("isolation: fast webhook beside a 300 ms one, %d/s", perSecond), "p99 " + pct99(fast.latencies(sent)), "-", "-", pct(fast.latencies(sent)), "-", "-", ""},
		{fmt.Sprintf("  … slow one at max_in_flight %d: rate, max open", capSlow), fmt.Sprintf("%.1f/s, %d open", slowRate, slow.maxInFlight.Load()),
			fmt.Sprintf("%.1f/s ideal", ideal), ratio(slowRate, ideal), "-", "-", "-", ""},
	}
}

// benchMemory: Redis memory per retained delivery (event, delivery record,
// one attempt, indexes) after k deliveries, against bare Asynq's memory
// per queued task with the same body.
func benchMemory(b *testing.B, k int) []benchRow {
	e := newEngine(b)
	sink := newArrivals(b, 0)
	e.webhook(sink.srv.URL, nil)
	e.api.StartWorker()
	sink.wait(b, 1, time.Minute)
	sink.reset()
	ctx := context.Background()
	rdb := e.api.Server.Redis
	settle := func() {
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			n, _ := rdb.ZCard(ctx, e.api.Server.Keys.Due(e.acct.ID)).Result()
			if n == 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	settle()
	byKey := memoryByKey(b, rdb)
	before := usedMemory(b, rdb)
	e.publish(b, k)
	sink.wait(b, int64(k), 5*time.Minute)
	settle()
	per := float64(usedMemory(b, rdb)-before) / float64(k)
	keyRows := perDeliveryRows(byKey, memoryByKey(b, rdb), k)

	brdb := redistest.Client(b)
	q := asynq.NewClientFromRedisClient(brdb)
	_, _ = q.Enqueue(asynq.NewTask("baseline", benchData), asynq.Queue(outbound.DefaultQueue))
	b0 := usedMemory(b, brdb)
	for range k {
		if _, err := q.Enqueue(asynq.NewTask("baseline", benchData), asynq.Queue(outbound.DefaultQueue)); err != nil {
			b.Fatal(err)
		}
	}
	basePer := float64(usedMemory(b, brdb)-b0) / float64(k)
	return append([]benchRow{{fmt.Sprintf("Redis memory per retained delivery (1 attempt), %d-byte payload", len(benchData)), fmt.Sprintf("%.0f B", per),
		fmt.Sprintf("%.0f B queued task", basePer), ratio(per, basePer), "-", fmt.Sprintf("%.0f B beyond the payload", per-float64(len(benchData))), "-", ""}}, keyRows...)
}

func usedMemory(b *testing.B, rdb redis.UniversalClient) int64 {
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// benchCreate: POST /v1/customers over real HTTP from 4 clients, with no
// subscriber and with 4 (no worker: the create path only, fan-out included).
func benchCreate(b *testing.B, d time.Duration) []benchRow {
	e := newEngine(b)
	base := e.api.URL()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var seq atomic.Int64
	measure := func() (int, string, float64) {
		e.rt.n.Store(0)
		m0, b0 := mallocs()
		var n atomic.Int64
		stop := time.Now().Add(d)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					body := fmt.Sprintf(`{"name":"Ann","email":"a%d@example.com"}`, seq.Add(1))
					req, _ := http.NewRequest("POST", base+"/v1/customers", bytes.NewReader([]byte(body)))
					req.Header.Set("Authorization", "Bearer "+e.acct.Key)
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 201 {
						b.Errorf("create: %d", res.StatusCode)
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		c := int(n.Load())
		return c, perDelivery(m0, b0, c), float64(e.rt.n.Load()) / float64(c)
	}
	n0, mem0, rt0 := measure()
	sink := newArrivals(b, 0)
	for i := range 4 {
		id := e.api.Do("POST", "/v1/webhooks", e.acct.Key, map[string]any{"name": "c", "url": sink.srv.URL + "/c" + strconv.Itoa(i), "events": []string{"customer.created"}}).Want(201).Str("id")
		e.api.Do("PATCH", "/v1/webhooks/"+id, e.acct.Key, map[string]any{"active": true}).Want(200)
	}
	n4, mem4, rt4 := measure()
	return []benchRow{
		{"POST /v1/customers, no subscriber", rate(n0, d), "-", "-", "-", mem0 + " per create", fmt.Sprintf("%.1f", rt0), ""},
		{"POST /v1/customers, 4 subscribers (fan-out, no worker)", rate(n4, d), "-", "-", "-", mem4 + " per create", fmt.Sprintf("%.1f", rt4), ""},
	}
}

// baselineServer is bare Asynq on its own database with a handler that
// POSTs the task's body to a loopback receiver (an "id\n" prefix becomes
// the X-Id header).
func baselineServer(b *testing.B) (redis.UniversalClient, *arrivals, *asynq.Server, *asynq.ServeMux, *rtCounter) {
	rdb := redistest.Client(b)
	rt := &rtCounter{}
	rdb.AddHook(rt)
	s := newArrivals(b, 0)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	mux := asynq.NewServeMux()
	mux.HandleFunc("baseline", func(ctx context.Context, t *asynq.Task) error {
		id, body, _ := bytes.Cut(t.Payload(), []byte("\n"))
		req, _ := http.NewRequestWithContext(ctx, "POST", s.srv.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Id", string(id))
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return nil
	})
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 50, TaskCheckInterval: 20 * time.Millisecond,
		Queues: map[string]int{outbound.DefaultQueue: 1}, LogLevel: asynq.ErrorLevel})
	b.Cleanup(srv.Shutdown)
	return rdb, s, srv, mux, rt
}

func baselineEnqueue(b *testing.B, q *asynq.Client, n int) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if _, err := q.Enqueue(asynq.NewTask("baseline", append([]byte(strconv.FormatInt(i, 10)+"\n"), benchData...)), asynq.Queue(outbound.DefaultQueue), asynq.MaxRetry(0)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// baselineDrain enqueues n tasks, then times a server draining them.
func baselineDrain(b *testing.B, n int) (float64, float64, cpuUse) {
	rdb, s, srv, mux, rt := baselineServer(b)
	baselineEnqueue(b, asynq.NewClientFromRedisClient(rdb), n)
	rt.n.Store(0)
	c0 := cpuNow(b, rdb)
	start := time.Now()
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	s.wait(b, int64(n), 5*time.Minute)
	return float64(n) / time.Since(start).Seconds(), float64(rt.n.Load()) / float64(n), cpuNow(b, rdb).since(c0, n)
}

// baselineConcurrent enqueues n tasks from 8 goroutines while a server drains them.
func baselineConcurrent(b *testing.B, n int) (float64, float64, cpuUse) {
	rdb, s, srv, mux, rt := baselineServer(b)
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	c0 := cpuNow(b, rdb)
	start := time.Now()
	baselineEnqueue(b, asynq.NewClientFromRedisClient(rdb), n)
	s.wait(b, int64(n), 5*time.Minute)
	return float64(n) / time.Since(start).Seconds(), float64(rt.n.Load()) / float64(n), cpuNow(b, rdb).since(c0, n)
}

// baselineOpenLoop enqueues at perSecond and returns enqueue→arrival latencies.
func baselineOpenLoop(b *testing.B, perSecond, n int) []time.Duration {
	rdb, s, srv, mux, _ := baselineServer(b)
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	q := asynq.NewClientFromRedisClient(rdb)
	var mu sync.Mutex
	sent := make(map[string]time.Time, n)
	var seq atomic.Int64
	openLoop(perSecond, n, func() {
		id := strconv.FormatInt(seq.Add(1), 10)
		at := time.Now()
		mu.Lock()
		sent[id] = at
		mu.Unlock()
		if _, err := q.Enqueue(asynq.NewTask("baseline", append([]byte(id+"\n"), benchData...)), asynq.Queue(outbound.DefaultQueue), asynq.MaxRetry(0)); err != nil {
			b.Error(err)
		}
	})
	s.wait(b, int64(n), time.Minute)
	return s.latencies(sent)
}
