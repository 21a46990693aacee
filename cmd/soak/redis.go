package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// masterName is the name the sentinels monitor the master under.
const masterName = "hookline"

// redisNode is one redis-server on a fixed port, started from a config file
// of its own: a data node or a sentinel. The config file (not flags) is what
// lets a sentinel rewrite it, and a failed-over master restarted from it
// comes back on the same port and AOF.
type redisNode struct {
	*proc
	port int
	addr string
}

func newRedisNode(dir, name string, conf []string, sentinel bool) (*redisNode, error) {
	n := &redisNode{port: freePort()}
	n.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))
	home := filepath.Join(dir, name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n%s\n", n.port, home, strings.Join(conf, "\n"))
	path := filepath.Join(home, "redis.conf")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return nil, err
	}
	args := []string{path}
	if sentinel {
		// redis-server runs as a sentinel with --sentinel: no
		// redis-sentinel package is needed.
		args = append(args, "--sentinel")
	}
	n.proc = &proc{name: name, bin: "redis-server", args: args, log: filepath.Join(dir, name+".log")}
	if !sentinel {
		// INFO cpu rather than /proc: it is what an operator sizing Redis
		// reads, and it holds for a Redis on another host too.
		n.cpuOf = func(int) (float64, bool) { return n.infoCPU() }
	}
	return n, nil
}

// up starts the node and waits until it answers PING (its AOF loaded).
func (n *redisNode) up(ctx context.Context) error {
	if err := n.start(); err != nil {
		return err
	}
	c := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1})
	defer c.Close()
	return waitFor(60*time.Second, "redis-server on "+n.addr+" to answer PING", func() bool {
		return c.Ping(ctx).Err() == nil
	})
}

// info reads INFO sections of the node as a map; empty when it is down.
func (n *redisNode) info(ctx context.Context, sections ...string) map[string]string {
	c := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	defer c.Close()
	raw, err := c.Info(ctx, sections...).Result()
	m := map[string]string{}
	if err != nil {
		return m
	}
	for _, l := range strings.Split(raw, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}

// infoInt is one integer field of an INFO map, 0 when absent.
func infoInt(m map[string]string, key string) int64 {
	v, _ := strconv.ParseInt(m[key], 10, 64)
	return v
}

// infoCPU is used_cpu_sys + used_cpu_user in milliseconds.
func (n *redisNode) infoCPU() (float64, bool) {
	m := n.info(context.Background(), "cpu")
	sys, err1 := strconv.ParseFloat(m["used_cpu_sys"], 64)
	user, err2 := strconv.ParseFloat(m["used_cpu_user"], 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return 1000 * (sys + user), true
}

// redisSet is the Redis of one run: one node (standalone), a master and a
// replica watched by three sentinels (sentinel), or three masters
// (cluster), each with AOF at the scenario's fsync.
type redisSet struct {
	kind      string
	data      []*redisNode
	sentinels []*redisNode
	url       string // HOOKLINE_REDIS_URL
}

func startRedisSet(ctx context.Context, dir, kind, fsync string, minReplicas bool) (*redisSet, error) {
	s := &redisSet{kind: kind}
	base := []string{`save ""`, "appendonly yes", "appendfsync " + fsync, "maxmemory-policy noeviction"}
	switch kind {
	case "standalone":
		n, err := newRedisNode(dir, "redis", base, false)
		if err != nil {
			return nil, err
		}
		s.data = []*redisNode{n}
		s.url = "redis://" + n.addr + "/0"
	case "sentinel":
		if minReplicas {
			// On both nodes: the setting matters on whichever is master.
			base = append(base, "min-replicas-to-write 1", "min-replicas-max-lag 1")
		}
		m, err := newRedisNode(dir, "redis0", base, false)
		if err != nil {
			return nil, err
		}
		r, err := newRedisNode(dir, "redis1", append(base, fmt.Sprintf("replicaof 127.0.0.1 %d", m.port)), false)
		if err != nil {
			return nil, err
		}
		s.data = []*redisNode{m, r}
		for i := 0; i < 3; i++ {
			sn, err := newRedisNode(dir, fmt.Sprintf("sentinel%d", i), []string{
				fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", masterName, m.port),
				"sentinel down-after-milliseconds " + masterName + " 1000",
				"sentinel failover-timeout " + masterName + " 5000",
				"sentinel parallel-syncs " + masterName + " 1"}, true)
			if err != nil {
				return nil, err
			}
			s.sentinels = append(s.sentinels, sn)
		}
		s.url = fmt.Sprintf("redis+sentinel://%s/0?master_name=%s&addr=%s&addr=%s",
			s.sentinels[0].addr, masterName, s.sentinels[1].addr, s.sentinels[2].addr)
	case "cluster":
		for i := 0; i < 3; i++ {
			// The bus port is chosen, not port+10000, which may not exist
			// for a high ephemeral port.
			n, err := newRedisNode(dir, fmt.Sprintf("redis%d", i), append(base, "cluster-enabled yes",
				"cluster-config-file nodes.conf", "cluster-node-timeout 2000",
				fmt.Sprintf("cluster-port %d", freePort())), false)
			if err != nil {
				return nil, err
			}
			s.data = append(s.data, n)
		}
		s.url = fmt.Sprintf("redis+cluster://%s?addr=%s&addr=%s", s.data[0].addr, s.data[1].addr, s.data[2].addr)
	default:
		return nil, fmt.Errorf("unknown topology %q", kind)
	}
	for _, n := range append(append([]*redisNode{}, s.data...), s.sentinels...) {
		if err := n.up(ctx); err != nil {
			s.stop()
			return nil, err
		}
	}
	var err error
	switch kind {
	case "sentinel":
		err = s.waitSentinelsReady(ctx)
		if err == nil {
			err = s.waitLinkUp(ctx, s.data[1], s.data[0])
		}
	case "cluster":
		args := []string{"--cluster", "create"}
		for _, n := range s.data {
			args = append(args, n.addr)
		}
		out, cerr := exec.Command("redis-cli", append(args, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
		if cerr != nil {
			err = fmt.Errorf("redis-cli --cluster create: %v\n%s", cerr, out)
		} else {
			err = s.waitClusterOK(ctx)
		}
	}
	if err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitSentinelsReady waits until every sentinel knows the replica and the
// two other sentinels: before that a failover cannot happen.
func (s *redisSet) waitSentinelsReady(ctx context.Context) error {
	return waitFor(30*time.Second, "the sentinels to discover the replica and each other", func() bool {
		for _, sn := range s.sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: sn.addr})
			reps, err1 := c.Replicas(ctx, masterName).Result()
			sens, err2 := c.Sentinels(ctx, masterName).Result()
			_ = c.Close()
			if err1 != nil || err2 != nil || len(reps) < 1 || len(sens) < 2 {
				return false
			}
		}
		return true
	})
}

// waitClusterOK waits until every node reports cluster_state:ok and knows
// all the others.
func (s *redisSet) waitClusterOK(ctx context.Context) error {
	return waitFor(30*time.Second, "cluster_state:ok on every node", func() bool {
		for _, n := range s.data {
			c := redis.NewClient(&redis.Options{Addr: n.addr})
			info, err := c.ClusterInfo(ctx).Result()
			nodes, err2 := c.ClusterNodes(ctx).Result()
			_ = c.Close()
			if err != nil || err2 != nil || !strings.Contains(info, "cluster_state:ok") ||
				strings.Count(strings.TrimSpace(nodes), "\n")+1 < len(s.data) {
				return false
			}
		}
		return true
	})
}

// waitLinkUp waits until replica reports master's port as its master and
// master_link_status:up (the full sync done).
func (s *redisSet) waitLinkUp(ctx context.Context, replica, master *redisNode) error {
	return waitFor(60*time.Second, replica.addr+" to be a replica of "+master.addr+" with its link up", func() bool {
		m := replica.info(ctx, "replication")
		return m["role"] == "slave" && m["master_port"] == strconv.Itoa(master.port) && m["master_link_status"] == "up"
	})
}

// masterAddr asks the sentinels which address is the master now, so the
// harness follows a failover as Hookline's clients do.
func (s *redisSet) masterAddr(ctx context.Context) string {
	for _, sn := range s.sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.addr, MaxRetries: -1})
		a, err := c.GetMasterAddrByName(ctx, masterName).Result()
		_ = c.Close()
		if err == nil && len(a) == 2 {
			return net.JoinHostPort(a[0], a[1])
		}
	}
	return ""
}

// masters are the data nodes that take writes now.
func (s *redisSet) masters(ctx context.Context) []*redisNode {
	if s.kind != "sentinel" {
		return s.data
	}
	addr := s.masterAddr(ctx)
	for _, n := range s.data {
		if n.addr == addr {
			return []*redisNode{n}
		}
	}
	return nil
}

// restart kills one master (a random one on Cluster) with SIGKILL, starts
// it again a second later and waits until it serves again.
func (s *redisSet) restart(ctx context.Context, pick int) error {
	ms := s.masters(ctx)
	if len(ms) == 0 {
		return fmt.Errorf("no master to restart")
	}
	n := ms[pick%len(ms)]
	n.kill()
	time.Sleep(time.Second)
	if err := n.up(ctx); err != nil {
		return err
	}
	if s.kind == "cluster" {
		return s.waitClusterOK(ctx)
	}
	return nil
}

// failover is one fault of the failover scenario: the master the sentinels
// name is killed with SIGKILL, and once they have promoted the replica the
// old master is started again from its config file. Started before the
// promotion it would answer again within down-after-milliseconds and no
// failover would happen. The sentinels then make it a replica of the new
// master; failover returns when its link is up, so the next fault has a
// replica to promote.
func (s *redisSet) failover(ctx context.Context) (killed, promoted, attached time.Time, err error) {
	old := s.masterAddr(ctx)
	var victim, next *redisNode
	for i, n := range s.data {
		if n.addr == old {
			victim, next = n, s.data[1-i]
		}
	}
	if victim == nil {
		return killed, promoted, attached, fmt.Errorf("the sentinels name %q, not a data node", old)
	}
	killed = time.Now()
	victim.kill()
	err = waitFor(30*time.Second, "the sentinels to promote "+next.addr, func() bool {
		return s.masterAddr(ctx) == next.addr && next.info(ctx, "replication")["role"] == "master"
	})
	if err != nil {
		return killed, promoted, attached, err
	}
	promoted = time.Now()
	if err = victim.up(ctx); err != nil {
		return killed, promoted, attached, err
	}
	if err = s.waitLinkUp(ctx, victim, next); err != nil {
		return killed, promoted, attached, fmt.Errorf("old master not reconfigured by the sentinels: %w", err)
	}
	return killed, promoted, time.Now(), nil
}

func (s *redisSet) stop() {
	for _, n := range append(append([]*redisNode{}, s.sentinels...), s.data...) {
		n.kill()
	}
}

// waitFor polls cond (infrastructure starting or switching over).
func waitFor(timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
