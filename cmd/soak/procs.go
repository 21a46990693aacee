package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// proc is one child process that can be killed with SIGKILL and started
// again with the same arguments, its output appended to a log file.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	go func() { _ = cmd.Wait(); f.Close() }()
	p.cmd = cmd
	return nil
}

// kill sends SIGKILL and waits until the process is gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	for i := 0; i < 500; i++ {
		if syscall.Kill(cmd.Process.Pid, 0) != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rssKB is the process's resident memory, 0 when it is not running.
func (p *proc) rssKB() int {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	return 0
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// topology is Redis, the API processes and the workers of one run.
type topology struct {
	dir     string
	redis   *proc
	rdbAddr string
	apis    []*proc
	apiURLs []string
	workers []*proc
	env     []string
}

func startTopology(ctx context.Context, bin, dir, fsync string, nAPI, nWorker int) (*topology, error) {
	t := &topology{dir: dir}
	port := freePort()
	t.rdbAddr = "127.0.0.1:" + strconv.Itoa(port)
	t.redis = &proc{name: "redis", bin: "redis-server", log: filepath.Join(dir, "redis.log"), args: []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
		"--appendonly", "yes", "--appendfsync", fsync, "--maxmemory-policy", "noeviction"}}
	if err := t.startRedis(ctx); err != nil {
		return nil, err
	}
	key, err := newSecretKey(bin)
	if err != nil {
		return nil, err
	}
	t.env = []string{"HOOKLINE_MODE=development", "HOOKLINE_REDIS_URL=redis://" + t.rdbAddr + "/0",
		"HOOKLINE_SECRET_KEYS=" + key, "HOOKLINE_KEY_RATE=1000000", "HOOKLINE_ACCOUNT_IN_FLIGHT=200",
		"HOOKLINE_LOG_LEVEL=warn", "HOOKLINE_EVENT_MAX=10000000", "HOOKLINE_MAX_EVENT_TYPES=200"}
	for i := 0; i < nAPI; i++ {
		addr := "127.0.0.1:" + strconv.Itoa(freePort())
		p := &proc{name: fmt.Sprintf("api%d", i), bin: bin, args: []string{"api"}, log: filepath.Join(dir, fmt.Sprintf("api%d.log", i)),
			env: append(append([]string{}, t.env...), "HOOKLINE_ADDR="+addr)}
		t.apis = append(t.apis, p)
		t.apiURLs = append(t.apiURLs, "http://"+addr)
	}
	for i := 0; i < nWorker; i++ {
		t.workers = append(t.workers, &proc{name: fmt.Sprintf("worker%d", i), bin: bin, args: []string{"worker"},
			log: filepath.Join(dir, fmt.Sprintf("worker%d.log", i)), env: t.env})
	}
	for _, p := range append(append([]*proc{}, t.apis...), t.workers...) {
		if err := p.start(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func newSecretKey(bin string) (string, error) {
	out, err := exec.Command(bin, "admin", "new-secret-key").Output()
	if err != nil {
		return "", fmt.Errorf("hookline admin new-secret-key: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// startRedis starts Redis and waits until it answers PING (the AOF loaded).
func (t *topology) startRedis(ctx context.Context) error {
	if err := t.redis.start(); err != nil {
		return err
	}
	c := redis.NewClient(&redis.Options{Addr: t.rdbAddr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(60 * time.Second)
	for c.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not start", t.rdbAddr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// createAccount runs hookline admin create-account and returns the API key.
func (t *topology) createAccount(bin string) (string, error) {
	cmd := exec.Command(bin, "admin", "create-account", "--name", "Soak", "--email", "soak@example.com")
	cmd.Env = append(append(os.Environ(), t.env...), "HOOKLINE_ADMIN_PASSWORD=soak-password-1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("create-account: %v: %s", err, out)
	}
	i := strings.Index(string(out), `"api_key"`)
	if i < 0 {
		return "", fmt.Errorf("create-account: no api_key in %s", out)
	}
	rest := string(out)[i+len(`"api_key"`):]
	rest = rest[strings.Index(rest, `"`)+1:]
	return rest[:strings.Index(rest, `"`)], nil
}

func (t *topology) stop() {
	for _, p := range append(append([]*proc{}, t.apis...), t.workers...) {
		p.kill()
	}
	t.redis.kill()
}

// redisMemory is Redis's used_memory in bytes.
func (t *topology) redisMemory(ctx context.Context) int64 {
	c := redis.NewClient(&redis.Options{Addr: t.rdbAddr})
	defer c.Close()
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
