// Command soak runs Hookline's durability promise against a real topology on
// this machine and exits non-zero when it breaks: Redis with AOF, two
// `hookline api` and three `hookline worker` processes built from this tree,
// a publisher at a chosen rate and a scripted receiver, with one scenario of
// faults (RELIABILITY.md). Run it with `make soak SCENARIO=…`.
//
//	soak -scenario worker-crash -duration 10m -rate 500 -kills 100
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// scenarios maps each name to its fault and receiver script.
var scenarios = map[string]struct {
	fsync  string
	fault  string // "worker", "api", "redis" or ""
	script map[string]behaviour
	about  string
}{
	"worker-crash":   {"everysec", "worker", steady(), "kill -9 of a random worker, restarted at once"},
	"api-crash":      {"everysec", "api", steady(), "kill -9 of a random API process, restarted at once"},
	"redis-everysec": {"everysec", "redis", steady(), "Redis killed (SIGKILL) and restarted after 1 s; AOF everysec"},
	"redis-always":   {"always", "redis", steady(), "Redis killed (SIGKILL) and restarted after 1 s; AOF always"},
	"receiver-chaos": {"everysec", "", map[string]behaviour{
		"/main":     {fail5xx: 0.5, timeout: 0.1, reset: 0.05, slow: 0.05},
		"/gone":     {gone: true},
		"/throttle": {throttle: 0.3},
	}, "50 % 5xx, 10 % timeouts, resets, slow bodies; 410 on one webhook, 429 with Retry-After on another"},
}

func steady() map[string]behaviour { return map[string]behaviour{"/main": {}} }

func main() { os.Exit(run()) }

func run() int {
	scenario := flag.String("scenario", "worker-crash", "worker-crash, api-crash, redis-everysec, redis-always or receiver-chaos")
	duration := flag.Duration("duration", time.Minute, "how long events are published (the issue's runs: 10m)")
	rate := flag.Int("rate", 100, "events published per second")
	kills := flag.Int("kills", 0, "faults over the run (0: 100 for crashes, 5 for Redis restarts, scaled to the duration)")
	bin := flag.String("bin", "", "the hookline binary (empty: build ./cmd/hookline)")
	keep := flag.Bool("keep", false, "keep the run's directory (logs, AOF)")
	flag.Parse()
	sc, ok := scenarios[*scenario]
	if !ok {
		fmt.Fprintf(os.Stderr, "soak: unknown scenario %q\n", *scenario)
		return 2
	}
	dir, err := os.MkdirTemp("", "hookline-soak-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	if *bin == "" {
		*bin = filepath.Join(dir, "hookline")
		if out, err := exec.Command("go", "build", "-o", *bin, "./cmd/hookline").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "soak: build: %v\n%s", err, out)
			return 2
		}
	}
	if sc.fault == "" {
		*kills = 0
	} else if *kills == 0 {
		*kills = 100
		if sc.fault == "redis" {
			*kills = 5
		}
		// 100 kills belong to a 10-minute run; shorter runs get their share.
		*kills = max(1, int(float64(*kills)*duration.Seconds()/600))
	}
	fmt.Printf("soak %s: %s; %s at %d events/s, %d faults; dir %s\n", *scenario, sc.about, *duration, *rate, *kills, dir)
	r, err := soak(*scenario, *bin, dir, *duration, *rate, *kills)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	r.print(os.Stdout)
	if r.broken() {
		fmt.Println("FAIL: the promise broke (ids above)")
		return 1
	}
	fmt.Println("PASS")
	return 0
}

func soak(name, bin, dir string, d time.Duration, rate, kills int) (*report, error) {
	ctx := context.Background()
	sc := scenarios[name]
	top, err := startTopology(ctx, bin, dir, sc.fsync, 2, 3)
	if err != nil {
		return nil, err
	}
	defer top.stop()
	key, err := top.createAccount(bin)
	if err != nil {
		return nil, err
	}
	a := &api{base: top.apiURLs, key: key, hc: &http.Client{Timeout: 10 * time.Second}}
	timeout := 2 * time.Second
	recv, err := newReceiver(sc.script, timeout)
	if err != nil {
		return nil, err
	}
	// Hookline's delivery log keeps the last 10,000 deliveries per webhook:
	// the events are spread over enough types (one webhook per type and
	// path) that none is trimmed before the check reads it.
	types := int(float64(rate)*d.Seconds()/8000) + 1
	hooks := map[string][]string{}
	for k := 0; k < types; k++ {
		typ := fmt.Sprintf("soak.tick%d", k)
		if err := a.must("POST", "/v1/event-types", map[string]any{"name": typ, "description": "A soak test event.",
			"sample": map[string]any{"seq": 1}}, 201, nil); err != nil {
			return nil, err
		}
		for path, b := range sc.script {
			if b.gone && k > 0 {
				continue // deleted at its first 410: one is enough
			}
			var w struct{ ID string }
			if err := a.must("POST", "/v1/webhooks", map[string]any{"name": path, "url": recv.url + path, "events": []string{typ},
				"timeout": "2s", "retry_schedule": []string{"1s", "2s", "5s", "10s", "20s"}}, 201, &w); err != nil {
				return nil, err
			}
			if err := a.must("PATCH", "/v1/webhooks/"+w.ID, map[string]any{"active": true}, 200, nil); err != nil {
				return nil, err
			}
			hooks[path] = append(hooks[path], w.ID)
		}
	}

	rep := &report{scenario: name, fsync: sc.fsync, rate: rate, duration: d}
	pub := &publisher{api: a, rate: rate, types: types, errors: map[string]int{}}
	rep.pub = pub
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { pub.run(stop); close(done) }()
	start := time.Now()
	every := d / time.Duration(max(kills, 1)+1)
	next := start.Add(every)
	for time.Since(start) < d {
		if time.Since(start) > d/2 && rep.memMid.redis == 0 {
			rep.memMid = sample(ctx, top)
		}
		if sc.fault != "" && time.Now().After(next) {
			rep.faults = append(rep.faults, time.Now())
			if err := fault(ctx, top, sc.fault); err != nil {
				return nil, err
			}
			next = next.Add(every)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-done
	rep.published = time.Since(start)
	rep.memEnd = sample(ctx, top)
	return rep, rep.check(ctx, a, recv, hooks, sc.fault)
}

// fault kills one process of the kind (a random one) and starts it again.
func fault(ctx context.Context, t *topology, kind string) error {
	switch kind {
	case "worker":
		p := t.workers[rand.IntN(len(t.workers))]
		p.kill()
		return p.start()
	case "api":
		p := t.apis[rand.IntN(len(t.apis))]
		p.kill()
		return p.start()
	case "redis":
		t.redis.kill()
		time.Sleep(time.Second)
		return t.startRedis(ctx)
	}
	return nil
}

// mem is one sample of memory: Redis's used_memory, the processes' RSS.
type mem struct {
	redis            int64
	apiKB, workersKB int
}

func sample(ctx context.Context, t *topology) mem {
	m := mem{redis: t.redisMemory(ctx)}
	for _, p := range t.apis {
		m.apiKB += p.rssKB()
	}
	for _, p := range t.workers {
		m.workersKB += p.rssKB()
	}
	return m
}
