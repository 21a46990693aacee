package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Node is one redis-server (or sentinel) process started by this package on
// a free 127.0.0.1 port. It can be killed and started again on the same
// port, directory and arguments, as a crashed server restarted by its
// supervisor would be.
type Node struct {
	Port int
	Dir  string
	args []string
	cmd  *exec.Cmd
}

// Addr is the node's host:port.
func (n *Node) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Port)) }

// StartNode starts a redis-server on a free port in a directory of its own
// with the given extra arguments (e.g. "--appendonly", "yes"), waits until
// it answers PING and kills it at cleanup.
func StartNode(t testing.TB, args ...string) *Node {
	t.Helper()
	n := &Node{Dir: t.TempDir()}
	n.Port = mustFreePort(t)
	n.args = append([]string{"--port", strconv.Itoa(n.Port), "--bind", "127.0.0.1", "--dir", n.Dir,
		"--save", "", "--maxmemory-policy", "noeviction", "--loglevel", "warning",
		"--logfile", filepath.Join(n.Dir, "redis.log")}, args...)
	n.Start(t)
	t.Cleanup(n.Kill)
	return n
}

// Start starts the node's process again (after Kill) and waits for PING.
func (n *Node) Start(t testing.TB) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: redis-server is not installed (Debian: apt-get install redis-server): %v", err)
	}
	n.cmd = exec.Command(bin, n.args...)
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("redistest: start redis-server: %v", err)
	}
	if err := waitReady(n.Addr(), n.cmd); err != nil {
		log, _ := os.ReadFile(filepath.Join(n.Dir, "redis.log"))
		t.Fatalf("redistest: redis-server on %s did not start: %v\n%s", n.Addr(), err, log)
	}
}

// Kill stops the node with SIGKILL (no shutdown save) and waits for it.
func (n *Node) Kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	_, _ = n.cmd.Process.Wait()
	n.cmd = nil
}

// Client returns a plain client on the node, closed at cleanup.
func (n *Node) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: n.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func mustFreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	return p
}

// Sentinel is one master, one replica and three sentinels watching the
// master under MasterName, with a quorum of two and a one-second down-after,
// all on this machine.
type Sentinel struct {
	MasterName string
	Master     *Node
	Replica    *Node
	Sentinels  []*Node
}

// StartSentinel starts the Sentinel topology and waits until the replica has
// finished its first full sync and every sentinel knows the replica and the
// two other sentinels, so a failover can happen.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s := &Sentinel{MasterName: "hookline"}
	// Redis 7 waits 5 s before a diskless full sync; until it is done the
	// replica is empty, and the sentinels would still promote it (its
	// master_link_down_since_seconds is -1). A failover then loses every
	// key, which is not the failure a test means to stage.
	s.Master = StartNode(t, "--appendonly", "yes", "--repl-diskless-sync-delay", "0")
	s.Replica = StartNode(t, "--appendonly", "yes", "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port))
	waitUntil(t, 20*time.Second, "the replica's first full sync", func() bool {
		c := redis.NewClient(&redis.Options{Addr: s.Replica.Addr()})
		defer c.Close()
		info, err := c.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	for i := 0; i < 3; i++ {
		s.Sentinels = append(s.Sentinels, startSentinelNode(t, s.MasterName, s.Master.Port))
	}
	waitUntil(t, 20*time.Second, "sentinels to discover the replica and each other", func() bool {
		for _, sn := range s.Sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr()})
			reps, err1 := c.Replicas(context.Background(), s.MasterName).Result()
			sens, err2 := c.Sentinels(context.Background(), s.MasterName).Result()
			_ = c.Close()
			if err1 != nil || err2 != nil || len(reps) < 1 || len(sens) < 2 {
				return false
			}
		}
		return true
	})
	return s
}

func startSentinelNode(t testing.TB, name string, masterPort int) *Node {
	t.Helper()
	n := &Node{Dir: t.TempDir(), Port: mustFreePort(t)}
	conf := filepath.Join(n.Dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
		"sentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %s 1000\n"+
		"sentinel failover-timeout %s 5000\nsentinel parallel-syncs %s 1\n",
		n.Port, n.Dir, filepath.Join(n.Dir, "redis.log"), name, masterPort, name, name, name)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// redis-server runs as a sentinel with --sentinel: no redis-sentinel
	// package is needed.
	n.args = []string{conf, "--sentinel"}
	n.Start(t)
	t.Cleanup(n.Kill)
	return n
}

// URL is a redis+sentinel:// URL for database db, as store.Open takes it.
func (s *Sentinel) URL(db int) string {
	u := fmt.Sprintf("redis+sentinel://%s/%d?master_name=%s", s.Sentinels[0].Addr(), db, s.MasterName)
	for _, sn := range s.Sentinels[1:] {
		u += "&addr=" + sn.Addr()
	}
	return u
}

// MasterAddr asks the sentinels which address is the master now.
func (s *Sentinel) MasterAddr(t testing.TB) string {
	t.Helper()
	for _, sn := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr()})
		a, err := c.GetMasterAddrByName(context.Background(), s.MasterName).Result()
		_ = c.Close()
		if err == nil && len(a) == 2 {
			return net.JoinHostPort(a[0], a[1])
		}
	}
	t.Fatal("redistest: no sentinel names a master")
	return ""
}

// KillMaster kills the current master with SIGKILL and waits until the
// sentinels have promoted the replica and it accepts writes. It returns
// how long that took.
func (s *Sentinel) KillMaster(t testing.TB) time.Duration {
	t.Helper()
	old := s.MasterAddr(t)
	victim, next := s.Master, s.Replica
	if old == s.Replica.Addr() {
		victim, next = s.Replica, s.Master
	}
	start := time.Now()
	victim.Kill()
	waitUntil(t, 30*time.Second, "the sentinels to promote "+next.Addr(), func() bool {
		if s.MasterAddr(t) != next.Addr() {
			return false
		}
		c := redis.NewClient(&redis.Options{Addr: next.Addr()})
		defer c.Close()
		return c.Set(context.Background(), "redistest:failover", "1", time.Minute).Err() == nil
	})
	return time.Since(start)
}

// Cluster is a Redis Cluster of masters only (no replicas), the slots split
// into equal contiguous ranges in node order.
type Cluster struct {
	Nodes []*Node
}

// StartCluster starts masters cluster-enabled nodes, assigns the slots,
// joins them and waits until every node reports cluster_state:ok.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	c := &Cluster{}
	var buses []int
	for i := 0; i < masters; i++ {
		bus := mustFreePort(t)
		buses = append(buses, bus)
		c.Nodes = append(c.Nodes, StartNode(t, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000", "--appendonly", "yes"))
	}
	ctx := context.Background()
	for i, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr()})
		lo, hi := i*16384/masters, (i+1)*16384/masters-1
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatalf("redistest: cluster addslotsrange on %s: %v", n.Addr(), err)
		}
		if i > 0 {
			if err := cl.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", c.Nodes[0].Port, buses[0]).Err(); err != nil {
				t.Fatalf("redistest: cluster meet: %v", err)
			}
		}
		_ = cl.Close()
	}
	waitUntil(t, 30*time.Second, "cluster_state:ok on every node", func() bool {
		for _, n := range c.Nodes {
			cl := redis.NewClient(&redis.Options{Addr: n.Addr()})
			info, err := cl.ClusterInfo(ctx).Result()
			nodes, err2 := cl.ClusterNodes(ctx).Result()
			_ = cl.Close()
			if err != nil || err2 != nil || !strings.Contains(info, "cluster_state:ok") ||
				strings.Count(strings.TrimSpace(nodes), "\n")+1 < masters {
				return false
			}
		}
		return true
	})
	return c
}

// URL is a redis+cluster:// URL naming every node, as store.Open takes it.
func (c *Cluster) URL() string {
	u := "redis+cluster://" + c.Nodes[0].Addr()
	for i, n := range c.Nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.Addr()
	}
	return u
}

// waitUntil polls cond (infrastructure starting, not async work of ours).
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
