// Package redistest starts a real redis-server for one test package and hands
// each test its own database on it, flushed at cleanup. A database per test
// isolates Asynq too, which has no key prefix of its own.
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
//	func TestX(t *testing.T) { rdb := redistest.Client(t); … }
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/app/store"
	"github.com/redis/go-redis/v9"
)

// databases is how many logical databases the server offers: one per test.
const databases = 4000

var (
	addr   string
	nextDB atomic.Int64
)

// Main starts redis-server on a free 127.0.0.1 port, runs the package's
// tests and stops the server. It returns m.Run's exit code, or 1 when Redis
// cannot start.
func Main(m *testing.M) int {
	stop, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "redistest:", err)
		return 1
	}
	code := m.Run()
	stop()
	return code
}

func start() (func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (Debian: apt-get install redis-server): %w", err)
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for try := 0; try < 5; try++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--databases", strconv.Itoa(databases),
			"--maxmemory-policy", "noeviction", "--loglevel", "warning")
		// The server dies with the test binary, even when the binary is killed.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		a := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = waitReady(a, cmd); lastErr == nil {
			addr = a
			return func() {
				_ = cmd.Process.Kill()
				_, _ = cmd.Process.Wait()
				_ = os.RemoveAll(dir)
			}, nil
		}
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	}
	return nil, fmt.Errorf("redis-server did not start: %w", lastErr)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(a string, cmd *exec.Cmd) error {
	c := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond) // polling the server's start, not async work of ours
	}
}

// Addr is the running server's host:port.
func Addr() string { return addr }

// DB reserves a fresh database number for t and flushes it at cleanup.
func DB(t testing.TB) int {
	t.Helper()
	if addr == "" {
		t.Fatal("redistest: call redistest.Main from TestMain")
	}
	db := int(nextDB.Add(1))
	if db >= databases {
		t.Fatalf("redistest: more than %d tests in one package", databases-1)
	}
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
		_ = c.FlushDB(context.Background()).Err()
		_ = c.Close()
	})
	return db
}

// URL returns a redis:// URL for a fresh database, for code that takes a URL.
func URL(t testing.TB) string {
	return fmt.Sprintf("redis://%s/%d", addr, DB(t))
}

// Client returns a client on a fresh database, closed at cleanup.
func Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	db := DB(t)
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ClientURL returns a client for a URL made by URL, opened as Hookline
// opens its own (store.Open), closed at cleanup.
func ClientURL(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	c, err := store.Open(url)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
