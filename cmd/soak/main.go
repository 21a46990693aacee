// Command soak runs Hookline's durability promise against a real topology on
// this machine and exits non-zero when it breaks: Redis with AOF, two
// `hookline api` and three `hookline worker` processes built from this tree,
// a publisher at a chosen rate and a scripted receiver, with one scenario of
// faults (RELIABILITY.md). Run it with `make soak SCENARIO=…`.
//
//	soak -scenario worker-crash -duration 10m -rate 500 -kills 100
//	soak -topology sentinel -scenario failover -duration 10m -rate 500 [-min-replicas]
//	soak -topology cluster -scenario worker-crash -duration 10m -rate 500 [-accounts 6]
//	soak -scenario burst -events 5000
//	soak -scenario steady -duration 10m -rate 500
//	soak -scenario backlog -duration 1m -rate 500
//
// Events are spread round-robin over -accounts accounts (1, or 6 on
// cluster, so the accounts' records and shard queues spread over the
// masters); each has the same event types and webhooks on one receiver,
// and every check holds per account and in total.
//
// Redis is one node (-topology standalone), a master and a replica with
// three sentinels (sentinel), or three masters with one delivery queue
// shard each (cluster). The failover scenario kills the Sentinel master:
// events accepted just before it that the replica never received are
// reported as lost to asynchronous replication, apart from real losses.
// The burst scenario replaces the processes by one `hookline serve` and
// publishes a fixed number of events as fast as eight clients go.
//
// Besides the checks, a run prints what a row of RELIABILITY.md's tables
// needs: /readyz answers during faults, memory at start, half time and end,
// and CPU ms per delivery of Redis, the APIs and the workers with the
// sizing derived from them.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// scenario is a fault and a receiver script.
type scenario struct {
	fsync  string
	fault  string // "worker", "api", "redis", "failover" or ""
	script map[string]behaviour
	about  string
}

var scenarios = map[string]scenario{
	"worker-crash":   {"everysec", "worker", steady(), "kill -9 of a random worker, restarted at once"},
	"api-crash":      {"everysec", "api", steady(), "kill -9 of a random API process, restarted at once"},
	"redis-everysec": {"everysec", "redis", steady(), "Redis killed (SIGKILL) and restarted after 1 s; AOF everysec"},
	"redis-always":   {"always", "redis", steady(), "Redis killed (SIGKILL) and restarted after 1 s; AOF always"},
	"failover": {"everysec", "failover", steady(),
		"kill -9 of the Sentinel master; the replica promoted; the old master restarted as its replica"},
	"receiver-chaos": {"everysec", "", map[string]behaviour{
		"/main":     {fail5xx: 0.5, timeout: 0.1, reset: 0.05, slow: 0.05},
		"/gone":     {gone: true},
		"/throttle": {throttle: 0.3},
	}, "50 % 5xx, 10 % timeouts, resets, slow bodies; 410 on one webhook, 429 with Retry-After on another"},
	"burst":  {"everysec", "", steady(), "one hookline serve; events published by 8 clients as fast as they go"},
	"steady": {"everysec", "", steady(), "no fault: processes that live the whole run, for memory over time"},
	"backlog": {"everysec", "", map[string]behaviour{"/main": {down: 30 * time.Second}},
		"the receiver answers 503 for the first 30 s of publishing: a backlog (15,000 events at 500/s) retried on schedule and delivered once it is back"},
}

func steady() map[string]behaviour { return map[string]behaviour{"/main": {}} }

// options are one run's flags, settled.
type options struct {
	scenario, topology string
	duration           time.Duration
	rate, kills        int
	events             int
	accounts           int
	minReplicas        bool
	concurrency        int
	bin, dir           string
}

func main() { os.Exit(run()) }

func run() int {
	var o options
	flag.StringVar(&o.scenario, "scenario", "worker-crash",
		"worker-crash, api-crash, redis-everysec, redis-always, receiver-chaos, failover (sentinel only) or burst (standalone only)")
	flag.StringVar(&o.topology, "topology", "standalone",
		"standalone (one Redis), sentinel (master, replica, three sentinels) or cluster (three masters, HOOKLINE_QUEUE_SHARDS=3)")
	flag.DurationVar(&o.duration, "duration", time.Minute, "how long events are published (the issue's runs: 10m; not for burst)")
	flag.IntVar(&o.rate, "rate", 100, "events published per second (not for burst)")
	flag.IntVar(&o.kills, "kills", 0,
		"faults over the run (0: per 10 minutes 100 crashes, 5 Redis restarts or 3 failovers, scaled to the duration)")
	flag.IntVar(&o.events, "events", 5000, "events the burst scenario publishes")
	flag.IntVar(&o.concurrency, "concurrency", 50,
		"HOOKLINE_WORKER_CONCURRENCY of each worker: slots for attempts waiting on slow or timing-out receivers")
	flag.BoolVar(&o.minReplicas, "min-replicas", false,
		"sentinel only: min-replicas-to-write 1 and min-replicas-max-lag 1 on both data nodes")
	flag.StringVar(&o.bin, "bin", "", "the hookline binary (empty: build ./cmd/hookline)")
	flag.IntVar(&o.accounts, "accounts", 1, "accounts the events are spread over, round-robin (default 6 with -topology cluster)")
	keep := flag.Bool("keep", false, "keep the run's directory (logs, AOF, Redis configs)")
	flag.Parse()
	if !flagSet("accounts") && o.topology == "cluster" {
		// One account's records and deliveries sit on one or two masters:
		// six spread them over the three (RELIABILITY.md, "Adding masters").
		o.accounts = 6
	}
	sc, ok := scenarios[o.scenario]
	if msg := o.refuse(ok, sc); msg != "" {
		fmt.Fprintln(os.Stderr, "soak:", msg)
		return 2
	}
	var err error
	if o.dir, err = os.MkdirTemp("", "hookline-soak-"); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	if !*keep {
		defer os.RemoveAll(o.dir)
	}
	if o.bin == "" {
		o.bin = filepath.Join(o.dir, "hookline")
		if out, err := exec.Command("go", "build", "-o", o.bin, "./cmd/hookline").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "soak: build: %v\n%s", err, out)
			return 2
		}
	}
	o.kills = defaultFaults(sc.fault, o.kills, o.duration)
	var r *report
	if o.scenario == "burst" {
		fmt.Printf("soak burst on standalone (AOF %s): %s; %d events%s; dir %s\n", sc.fsync, sc.about, o.events,
			o.accountsNote(), o.dir)
		r, err = burst(o)
	} else {
		fmt.Printf("soak %s on %s (AOF %s%s): %s; %s at %d events/s%s, %d faults; dir %s\n", o.scenario, o.topology,
			sc.fsync, o.replicasNote(), sc.about, o.duration, o.rate, o.accountsNote(), o.kills, o.dir)
		r, err = soak(o)
	}
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

// refuse says why a combination of flags cannot run, or "".
func (o options) refuse(known bool, sc scenario) string {
	switch {
	case !known:
		return fmt.Sprintf("unknown scenario %q", o.scenario)
	case o.topology != "standalone" && o.topology != "sentinel" && o.topology != "cluster":
		return fmt.Sprintf("unknown topology %q: standalone, sentinel or cluster", o.topology)
	case sc.fault == "failover" && o.topology != "sentinel":
		return "the failover scenario kills the Sentinel master: run it with -topology sentinel"
	case sc.fault == "redis" && o.topology == "sentinel":
		return "on -topology sentinel a killed master is failed over: use -scenario failover"
	case o.scenario == "burst" && o.topology != "standalone":
		return "the burst scenario runs one hookline serve on -topology standalone"
	case o.minReplicas && o.topology != "sentinel":
		return "-min-replicas needs -topology sentinel (it is a replication setting)"
	case o.scenario == "burst" && o.events < 1:
		return "-events must be at least 1"
	case o.scenario != "burst" && (o.rate < 1 || o.duration < time.Second):
		return "-rate must be at least 1 and -duration at least 1s"
	case o.accounts < 1 || o.accounts > 1000:
		return "-accounts must be from 1 to 1000"
	}
	return ""
}

// flagSet says whether the flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// accountsNote is ", N accounts" with more than one.
func (o options) accountsNote() string {
	if o.accounts <= 1 {
		return ""
	}
	return fmt.Sprintf(", %d accounts", o.accounts)
}

func (o options) replicasNote() string {
	switch {
	case o.topology != "sentinel":
		return ""
	case o.minReplicas:
		return ", min-replicas-to-write 1, min-replicas-max-lag 1"
	}
	return ", min-replicas off"
}

// defaultFaults is -kills, or the scenario's faults per 10 minutes scaled
// to the duration: 100 crashes, 5 Redis restarts, 3 failovers.
func defaultFaults(fault string, kills int, d time.Duration) int {
	if fault == "" {
		return 0
	}
	if kills > 0 {
		return kills
	}
	per10m := map[string]int{"worker": 100, "api": 100, "redis": 5, "failover": 3}[fault]
	return max(1, int(float64(per10m)*d.Seconds()/600))
}

func soak(o options) (*report, error) {
	ctx := context.Background()
	sc := scenarios[o.scenario]
	top, err := startTopology(ctx, o.bin, o.dir, layout{redis: o.topology, fsync: sc.fsync, minReplicas: o.minReplicas,
		apiRole: "api", apis: 2, workers: 3, concurrency: o.concurrency})
	if err != nil {
		return nil, err
	}
	defer top.stop()
	// Hookline's delivery log keeps the last 10,000 deliveries per webhook:
	// the events are spread over enough types (one webhook per type and
	// path) that none is trimmed before the check reads it. Every account
	// has all the types, though it takes only its share of the events.
	types := int(float64(o.rate)*o.duration.Seconds()/8000) + 1
	ts, recv, err := setup(top, o.bin, sc.script, types, o.accounts)
	if err != nil {
		return nil, err
	}
	rep := &report{scenario: o.scenario, topology: o.topology, fsync: sc.fsync, replicas: o.replicasNote(),
		rate: o.rate, duration: o.duration, shards: top.shards, accts: placements(ctx, top, ts)}
	pub := &publisher{apis: apisOf(ts), rate: o.rate, types: types, errors: map[string]int{}}
	rep.pub = pub
	rz := startReadyz(top.apiURLs[0])
	stop := make(chan struct{})
	done := make(chan struct{})
	cpu0 := cpuNow(top)
	recv.startOutages(time.Now())
	go func() { pub.run(stop); close(done) }()
	start := time.Now()
	// The start sample is taken once the processes have warmed up under
	// load, so start→end shows growth, not start-up.
	startSample := min(30*time.Second, o.duration/10)
	every := o.duration / time.Duration(max(o.kills, 1)+1)
	next := start.Add(every)
	for time.Since(start) < o.duration {
		if !rep.memStart.taken && time.Since(start) > startSample {
			rep.memStart = sample(ctx, top)
		}
		if !rep.memMid.taken && time.Since(start) > o.duration/2 {
			rep.memMid = sample(ctx, top)
		}
		if sc.fault != "" && time.Now().After(next) {
			if err := rep.fault(ctx, top, sc.fault); err != nil {
				return nil, err
			}
			next = next.Add(every)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-done
	rep.stopped = time.Now()
	rep.published = rep.stopped.Sub(start)
	rep.memEnd = sample(ctx, top)
	// The CPU window closes once the receiver has every accepted event (the
	// deliveries published last included), at most 5 s after publishing
	// stopped; the check's own reads of Hookline come after it.
	_ = waitFor(5*time.Second, "", func() bool { return recv.firstAcks("/main") >= len(pub.accepted) })
	rep.cpu, rep.cpuAttempts = cpuNow(top).minus(cpu0), recv.requestCount()
	err = rep.check(ctx, ts, recv, sc.fault)
	rep.readyz = rz.finish()
	rep.nodes = nodesAtEnd(ctx, top)
	return rep, err
}

// fault kills one process of the kind (a random one) and starts it again,
// and records when.
func (r *report) fault(ctx context.Context, t *topology, kind string) error {
	now := time.Now()
	switch kind {
	case "worker":
		r.faults = append(r.faults, now)
		p := t.workers[rand.IntN(len(t.workers))]
		p.kill()
		return p.start()
	case "api":
		r.faults = append(r.faults, now)
		p := t.apis[rand.IntN(len(t.apis))]
		p.kill()
		return p.start()
	case "redis":
		r.faults = append(r.faults, now)
		return t.redis.restart(ctx, rand.IntN(len(t.redis.data)))
	case "failover":
		killed, promoted, attached, err := t.redis.failover(ctx)
		r.faults = append(r.faults, killed)
		if err != nil {
			return err
		}
		r.failovers = append(r.failovers, failover{killed: killed, promoted: promoted, attached: attached})
	}
	return nil
}
