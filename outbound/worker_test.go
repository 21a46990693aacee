package outbound_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hookline/hookline/app/config"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound"
	"github.com/hookline/hookline/server"
)

// workerEnv makes the test binary run as a delivery worker process, so a
// test can kill it with SIGKILL mid-delivery.
const (
	workerEnv     = "OUTBOUND_TEST_WORKER_REDIS"
	workerKeysEnv = "OUTBOUND_TEST_WORKER_SECRET_KEYS"
)

func runWorkerProcess() int {
	url := os.Getenv(workerEnv)
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"HOOKLINE_MODE": "development", "HOOKLINE_REDIS_URL": url,
			"HOOKLINE_SECRET_KEYS": os.Getenv(workerKeysEnv)}[k]
	})
	if err != nil {
		return 2
	}
	rdb, err := store.Open(url)
	if err != nil {
		return 2
	}
	srv := server.New(cfg, rdb, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{
		BcryptCost: bcrypt.MinCost, Version: "test",
		Outbound: func(o *outbound.Options) { o.ReconcileEvery, o.ReconcileGrace = 500*time.Millisecond, time.Second },
	})
	w := srv.Worker()
	if err := w.Start(); err != nil {
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
	w.Stop()
	return 0
}

func startWorkerProcess(t *testing.T, api *apitest.API) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// The worker reads the secrets the API sealed: same Redis, same keys.
	cmd.Env = append(os.Environ(), workerEnv+"="+api.RedisURL, workerKeysEnv+"="+api.Env["HOOKLINE_SECRET_KEYS"])
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	return cmd
}

// A worker killed with SIGKILL in the middle of a delivery loses nothing:
// its abandoned task (a lease no longer renewed) is found by the recover
// loop of a restarted worker within 30 s, and the event is delivered with
// the same webhook-id. Measured here: 13–17 s (RELIABILITY.md).
func TestWorkerKilledMidDelivery_EventStillDelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the killed worker's lease to go stale (15 s)")
	}
	t.Parallel()
	api := apitest.New(t) // API only: the worker runs in a child process
	acct := api.NewAccount("Studio")
	hold := make(chan struct{})
	recv := receiver.New(t, receiver.Reply{Status: 200, Hold: hold}, receiver.Reply{Status: 200})

	var w webhookJSON
	api.Do("POST", "/v1/webhooks", acct.Key, map[string]any{"name": "t", "url": recv.URL, "events": []string{"customer.created"}, "timeout": "30s"}).Want(201).JSON(&w)
	api.Do("PATCH", "/v1/webhooks/"+w.ID, acct.Key, map[string]any{"active": true}).Want(200)
	// The activation test event is the request held open.
	worker := startWorkerProcess(t, api)
	recv.WaitFor(t, 1, 15*time.Second)
	if err := worker.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_, _ = worker.Process.Wait()
	close(hold)

	startWorkerProcess(t, api)
	f := &fixture{API: api, acct: acct}
	d := f.waitStatus(t, w.ID, "webhook.test", "delivered", 30*time.Second)
	reqs := recv.Requests()
	t.Logf("re-sent %.1f s after the kill", reqs[len(reqs)-1].At.Sub(killed).Seconds())
	if len(reqs) < 2 || reqs[0].Header.Get("webhook-id") != reqs[len(reqs)-1].Header.Get("webhook-id") {
		t.Fatalf("%d requests; the retry must carry the same webhook-id", len(reqs))
	}
	if d.Attempts < 1 {
		t.Fatalf("delivery %+v", d)
	}
}
