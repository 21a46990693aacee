// Package topologytest runs Hookline's smoke suite (account, webhook,
// publish, deliver, retry, attempt log) on Redis's distributed modes,
// Sentinel and Cluster, started by the tests themselves from the
// redis-server binary (internal/redistest).
package topologytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/config"
	"github.com/hookline/hookline/app/secrets"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/server"
)

// gateway is one in-process Hookline (API and worker) on a Redis URL.
type gateway struct {
	t   *testing.T
	srv *server.Server
	app *fiber.App
	key string
}

func newGateway(t *testing.T, url string, env ...string) *gateway {
	t.Helper()
	vars := map[string]string{"HOOKLINE_MODE": "development", "HOOKLINE_REDIS_URL": url,
		"HOOKLINE_SECRET_KEYS": secrets.NewKey("test"), "HOOKLINE_KEY_RATE": "1000000"}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	rdb, err := store.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("HOOKLINE_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv := server.New(cfg, rdb, log, server.Options{BcryptCost: bcrypt.MinCost, Version: "test"})
	g := &gateway{t: t, srv: srv, app: srv.HTTP()}
	w := srv.Worker()
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(w.Stop)
	c, err := srv.Accounts.CreateAccount(context.Background(), accounts.NewAccount{Name: "Studio",
		Email: fmt.Sprintf("owner%d@example.com", time.Now().UnixNano()), Password: "password123"})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	g.key = c.RawKey
	return g
}

// do sends a JSON request and decodes the JSON answer into out (if not nil).
// A status other than want fails the test.
func (g *gateway) do(method, path string, body any, want int, out any) {
	g.t.Helper()
	status, raw := g.try(method, path, body)
	if status != want {
		g.t.Fatalf("%s %s: got %d, want %d: %s", method, path, status, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			g.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// try sends a request and returns the status and body, failing only on a
// transport error.
func (g *gateway) try(method, path string, body any) (int, []byte) {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer "+g.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.app.Test(req, -1)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

type delivery struct {
	ID         string
	Status     string
	Attempts   int
	AttemptLog []struct {
		Number     int
		StatusCode int `json:"status_code"`
	} `json:"attempt_log"`
}

// smoke runs the suite on a receiver scripted 200 (activation's test
// event), 500, 200: a webhook activated, one customer created, its delivery retried once and delivered, the attempt log complete.
// It returns the webhook id for more publishes.
func (g *gateway) smoke(recv *receiver.Receiver) string {
	g.t.Helper()
	var w struct{ ID string }
	g.do("POST", "/v1/webhooks", map[string]any{"name": "smoke", "url": recv.URL + "/hook",
		"events": []string{"customer.created"}, "retry_schedule": []string{"1s"}}, 201, &w)
	g.do("PATCH", "/v1/webhooks/"+w.ID, map[string]any{"active": true}, 200, nil)
	recv.WaitFor(g.t, 1, 30*time.Second) // the test event, so the script's 500 is the customer's
	g.do("POST", "/v1/customers", map[string]any{"name": "Ann", "email": "ann@example.com"}, 201, nil)
	d := g.waitDelivered(w.ID, "customer.created", 1, 30*time.Second)[0]
	if d.Attempts != 2 || len(d.AttemptLog) != 2 || d.AttemptLog[0].StatusCode != 500 || d.AttemptLog[1].StatusCode != 200 {
		g.t.Fatalf("delivery %+v: want two attempts, 500 then 200", d)
	}
	return w.ID
}

// waitDelivered waits until the webhook has n deliveries of eventType, all
// delivered, and returns them with their attempt logs.
func (g *gateway) waitDelivered(whk, eventType string, n int, timeout time.Duration) []delivery {
	g.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		all := g.deliveries(whk, eventType)
		done := 0
		for _, d := range all {
			if d.Status == "delivered" {
				done++
			}
		}
		if len(all) >= n && done == len(all) {
			for i := range all {
				g.do("GET", "/v1/deliveries/"+all[i].ID, nil, 200, &all[i])
			}
			return all
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("after %s: %d deliveries, %d delivered, want %d", timeout, len(all), done, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deliveries lists every delivery of a webhook of one event type, page by page.
func (g *gateway) deliveries(whk, eventType string) []delivery {
	g.t.Helper()
	var all []delivery
	cursor := ""
	for {
		var page struct {
			Data       []delivery
			NextCursor *string `json:"next_cursor"`
		}
		g.do("GET", "/v1/webhooks/"+whk+"/deliveries?limit=100&event_type="+eventType+"&cursor="+cursor, nil, 200, &page)
		all = append(all, page.Data...)
		if page.NextCursor == nil || *page.NextCursor == "" {
			return all
		}
		cursor = *page.NextCursor
	}
}

// okStatus reports a request the API accepted.
func okStatus(s int) bool { return s >= 200 && s < 300 || s == http.StatusAccepted }
