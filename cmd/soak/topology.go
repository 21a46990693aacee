package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// topology is Redis, the API processes and the workers of one run. In the
// burst scenario apis holds one `hookline serve` and workers is empty.
type topology struct {
	dir     string
	redis   *redisSet
	apis    []*proc
	apiURLs []string
	workers []*proc
	env     []string
	shards  int // HOOKLINE_QUEUE_SHARDS
}

// layout says which processes a run starts.
type layout struct {
	redis       string // standalone, sentinel or cluster
	fsync       string
	minReplicas bool
	apiRole     string // "api", or "serve" for API and worker in one process
	apis        int
	workers     int
	concurrency int // HOOKLINE_WORKER_CONCURRENCY; 0: Hookline's default
}

func startTopology(ctx context.Context, bin, dir string, l layout) (*topology, error) {
	rs, err := startRedisSet(ctx, dir, l.redis, l.fsync, l.minReplicas)
	if err != nil {
		return nil, err
	}
	t := &topology{dir: dir, redis: rs, shards: 1}
	key, err := newSecretKey(bin)
	if err != nil {
		rs.stop()
		return nil, err
	}
	t.env = []string{"HOOKLINE_MODE=development", "HOOKLINE_REDIS_URL=" + rs.url,
		"HOOKLINE_SECRET_KEYS=" + key, "HOOKLINE_KEY_RATE=1000000", "HOOKLINE_ACCOUNT_IN_FLIGHT=200",
		"HOOKLINE_LOG_LEVEL=warn", "HOOKLINE_EVENT_MAX=10000000", "HOOKLINE_MAX_EVENT_TYPES=200"}
	if l.concurrency > 0 {
		t.env = append(t.env, "HOOKLINE_WORKER_CONCURRENCY="+strconv.Itoa(l.concurrency))
	}
	if l.redis == "cluster" {
		// One delivery queue per master (RELIABILITY.md, "Adding masters").
		t.shards = len(rs.data)
		t.env = append(t.env, "HOOKLINE_QUEUE_SHARDS="+strconv.Itoa(t.shards))
	}
	for i := 0; i < l.apis; i++ {
		addr := "127.0.0.1:" + strconv.Itoa(freePort())
		p := &proc{name: fmt.Sprintf("%s%d", l.apiRole, i), bin: bin, args: []string{l.apiRole},
			log: filepath.Join(dir, fmt.Sprintf("%s%d.log", l.apiRole, i)),
			env: append(append([]string{}, t.env...), "HOOKLINE_ADDR="+addr)}
		t.apis = append(t.apis, p)
		t.apiURLs = append(t.apiURLs, "http://"+addr)
	}
	for i := 0; i < l.workers; i++ {
		t.workers = append(t.workers, &proc{name: fmt.Sprintf("worker%d", i), bin: bin, args: []string{"worker"},
			log: filepath.Join(dir, fmt.Sprintf("worker%d.log", i)), env: t.env})
	}
	for _, p := range t.hooklines() {
		if err := p.start(); err != nil {
			t.stop()
			return nil, err
		}
	}
	return t, nil
}

func (t *topology) hooklines() []*proc { return append(append([]*proc{}, t.apis...), t.workers...) }

func newSecretKey(bin string) (string, error) {
	out, err := exec.Command(bin, "admin", "new-secret-key").Output()
	if err != nil {
		return "", fmt.Errorf("hookline admin new-secret-key: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (t *topology) stop() {
	for _, p := range t.hooklines() {
		p.kill()
	}
	t.redis.stop()
}

// mem is one sample of memory: Redis's used_memory on the masters and on
// the replicas, the processes' RSS.
type mem struct {
	taken            bool
	redis, replicas  int64
	apiKB, workersKB int
}

func sample(ctx context.Context, t *topology) mem {
	m := mem{taken: true}
	// On Sentinel the master is the one the sentinels name now.
	masters := map[*redisNode]bool{}
	for _, n := range t.redis.masters(ctx) {
		masters[n] = true
	}
	for _, n := range t.redis.data {
		used := infoInt(n.info(ctx, "memory"), "used_memory")
		if masters[n] {
			m.redis += used
		} else {
			m.replicas += used
		}
	}
	for _, p := range t.apis {
		m.apiKB += p.rssKB()
	}
	for _, p := range t.workers {
		m.workersKB += p.rssKB()
	}
	return m
}

// cpu is CPU ms used so far: Redis data nodes (INFO cpu), API processes
// and workers (/proc), each including runs that were killed.
type cpu struct{ redis, api, workers float64 }

func cpuNow(t *topology) cpu {
	var c cpu
	for _, n := range t.redis.data {
		c.redis += n.cpuMS()
	}
	for _, p := range t.apis {
		c.api += p.cpuMS()
	}
	for _, p := range t.workers {
		c.workers += p.cpuMS()
	}
	return c
}

func (c cpu) minus(o cpu) cpu { return cpu{c.redis - o.redis, c.api - o.api, c.workers - o.workers} }

// nodeFigures is one data node's INFO at the end of a run.
type nodeFigures struct {
	addr, role string
	usedMemory int64
	commands   int64 // since the node's last start
	starts     int
}

func nodesAtEnd(ctx context.Context, t *topology) []nodeFigures {
	var out []nodeFigures
	for _, n := range t.redis.data {
		info := n.info(ctx, "memory", "stats", "replication")
		out = append(out, nodeFigures{addr: n.addr, role: info["role"], usedMemory: infoInt(info, "used_memory"),
			commands: infoInt(info, "total_commands_processed"), starts: n.startCount()})
	}
	return out
}
