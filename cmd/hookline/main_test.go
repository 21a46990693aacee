package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/app/config"
	"github.com/hookline/hookline/app/secrets"
	"github.com/hookline/hookline/internal/redistest"
	"github.com/hookline/hookline/outbound"
	"github.com/hookline/hookline/server"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestAdminCreateAccountAndKey(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOOKLINE_REDIS_URL": redistest.URL(t), "HOOKLINE_MODE": "development"}
	var out, errb bytes.Buffer
	// The password comes from the environment, never from argv (F26).
	env["HOOKLINE_ADMIN_PASSWORD"] = "correct horse"
	code := run(context.Background(), []string{"admin", "create-account", "--name", "Studio", "--email", "o@example.com"}, envOf(env), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var acc map[string]string
	if err := json.Unmarshal(out.Bytes(), &acc); err != nil || len(acc) != 3 || !strings.HasPrefix(acc["api_key"], "hk_") ||
		!strings.HasPrefix(acc["account_id"], "acc_") || !strings.HasPrefix(acc["user_id"], "usr_") {
		t.Fatalf("stdout %q is not one JSON object with account_id, user_id, api_key", out.String())
	}
	if strings.Count(strings.TrimSpace(out.String()), "\n") != 0 {
		t.Fatalf("stdout has more than one line: %q", out.String())
	}
	if strings.Contains(errb.String(), "warning") {
		t.Fatalf("a password from the environment warned: %s", errb.String())
	}

	out.Reset()
	code = run(context.Background(), []string{"admin", "create-key", "--account", acc["account_id"], "--name", "zap", "--permissions", "read:customer,subscribe:webhook"}, envOf(env), &out, &errb)
	if code != 0 {
		t.Fatalf("create-key exit %d: %s", code, errb.String())
	}
	var key map[string]string
	if err := json.Unmarshal(out.Bytes(), &key); err != nil || !strings.HasPrefix(key["key_id"], "key_") || !strings.HasPrefix(key["api_key"], "hk_") {
		t.Fatalf("create-key stdout %q", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"admin", "check-key", "--key", key["api_key"]}, envOf(env), &out, &errb); code != 0 {
		t.Fatalf("check-key of a good key: exit %d", code)
	}
}

func TestAdminBadInput(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOOKLINE_REDIS_URL": redistest.URL(t), "HOOKLINE_MODE": "development"}
	ok := []string{"admin", "create-account", "--name", "S", "--email", "dup@example.com", "--password", "password1"}
	if code := run(context.Background(), ok, envOf(env), &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatalf("setup exit %d", code)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad email", []string{"admin", "create-account", "--name", "S", "--email", "nope", "--password", "password1"}, "--email"},
		{"short password", []string{"admin", "create-account", "--name", "S", "--email", "a@example.com", "--password", "short"}, "--password"},
		{"missing name", []string{"admin", "create-account", "--email", "b@example.com", "--password", "password1"}, "--name"},
		{"taken email", ok, "already registered"},
		{"unknown flag", []string{"admin", "create-account", "--nme", "S"}, "nme"},
		{"unknown permission", []string{"admin", "create-key", "--account", "acc_x", "--name", "k", "--permissions", "root"}, "root"},
		{"unknown account", []string{"admin", "create-key", "--account", "acc_01jd9q6m3v6f0t1r2y3x4z5a6b", "--name", "k", "--permissions", "read:customer"}, "account not found"},
		{"bad key", []string{"admin", "check-key", "--key", "hk_nope"}, "invalid API key"},
		{"unknown command", []string{"admin", "drop-everything"}, "unknown admin command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, envOf(env), &out, &errb)
			if code != 2 || out.Len() != 0 || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2, nothing, a message with %q", code, out.String(), errb.String(), tc.want)
			}
		})
	}
}

func TestBadConfigExits2(t *testing.T) {
	var errb bytes.Buffer
	code := run(context.Background(), []string{"serve"}, envOf(map[string]string{"HOOKLINE_MODE": "nope", "HOOKLINE_ADDR": "x"}), &bytes.Buffer{}, &errb)
	if code != 2 || !strings.Contains(errb.String(), "HOOKLINE_MODE") || !strings.Contains(errb.String(), "HOOKLINE_ADDR") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func TestProductionRefusesEvictingRedis(t *testing.T) {
	// This package's server is noeviction; make one database's server say
	// otherwise for this test only, then put it back.
	url := redistest.URL(t)
	rdb := redistest.ClientURL(t, url)
	ctx := context.Background()
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	defer rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction")
	var errb bytes.Buffer
	code := run(ctx, []string{"api"}, envOf(map[string]string{"HOOKLINE_REDIS_URL": url, "HOOKLINE_ADDR": "127.0.0.1:0",
		"HOOKLINE_SECRET_KEYS": secrets.NewKey("test")}), &bytes.Buffer{}, &errb)
	if code != 1 || !strings.Contains(errb.String(), "noeviction") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func TestServeAndGracefulShutdown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env := map[string]string{"HOOKLINE_REDIS_URL": redistest.URL(t), "HOOKLINE_MODE": "development", "HOOKLINE_ADDR": addr}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"admin", "create-account", "--name", "S", "--email", "s@example.com", "--password", "password1"}, envOf(env), &out, &bytes.Buffer{}); code != 0 {
		t.Fatal("create-account failed")
	}
	var acc map[string]string
	_ = json.Unmarshal(out.Bytes(), &acc)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var logs syncBuffer
	go func() { done <- run(ctx, []string{"serve"}, envOf(env), &bytes.Buffer{}, &logs) }()

	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	req, _ := http.NewRequest("POST", base+"/v1/customers", strings.NewReader(`{"name":"Ann","email":"ann@example.com"}`))
	req.Header.Set("Authorization", "Bearer "+acc["api_key"])
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create over real HTTP: %v %v", err, res)
	}
	res.Body.Close()

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d\n%s", code, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop after cancellation")
	}
	if strings.Contains(logs.String(), acc["api_key"]) {
		t.Fatal("the API key reached the logs")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in logs:\n%s", logs.String())
	}
}

// F26: a password on the command line still works for old scripts, but
// warns that ps and shell history show it.
func TestAdminCreateAccount_PasswordFlagWarns(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOOKLINE_REDIS_URL": redistest.URL(t), "HOOKLINE_MODE": "development"}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"admin", "create-account", "--name", "S", "--email", "w@example.com", "--password", "password1"}, envOf(env), &out, &errb)
	if code != 0 || !strings.Contains(errb.String(), "HOOKLINE_ADMIN_PASSWORD") {
		t.Fatalf("exit %d, stderr %q: want success and a warning naming HOOKLINE_ADMIN_PASSWORD", code, errb.String())
	}
}

// F14: production refuses to start without an operator key, and
// new-secret-key makes one without any configuration.
func TestProductionNeedsASecretKey(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"api"}, envOf(map[string]string{"HOOKLINE_REDIS_URL": redistest.URL(t)}), &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "HOOKLINE_SECRET_KEYS") {
		t.Fatalf("exit %d: %s; want 2 naming HOOKLINE_SECRET_KEYS", code, errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"admin", "new-secret-key", "--id", "k9"}, envOf(nil), &out, &errb); code != 0 {
		t.Fatalf("new-secret-key exit %d: %s", code, errb.String())
	}
	kr, err := secrets.Parse(strings.TrimSpace(out.String()))
	if err != nil || kr.CurrentID() != "k9" {
		t.Fatalf("new-secret-key printed %q: %v", out.String(), err)
	}
}

// rotate-secrets re-seals every stored secret under the first key: run it
// after putting a new key first, then the old key can go.
func TestAdminRotateSecrets(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	k1, k2 := secrets.NewKey("k1"), secrets.NewKey("k2")
	env := map[string]string{"HOOKLINE_REDIS_URL": url, "HOOKLINE_MODE": "development", "HOOKLINE_SECRET_KEYS": k1,
		"HOOKLINE_ADMIN_PASSWORD": "password123"}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"admin", "create-account", "--name", "S", "--email", "r@example.com"}, envOf(env), &out, &errb); code != 0 {
		t.Fatalf("create-account: %s", errb.String())
	}
	var acc map[string]string
	_ = json.Unmarshal(out.Bytes(), &acc)

	// A webhook with a signing secret and a bearer token, sealed under k1.
	cfg, err := config.Load(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.ClientURL(t, url)
	srv := server.New(cfg, rdb, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	ctx := context.Background()
	p, err := srv.Accounts.Authenticate(ctx, acc["api_key"])
	if err != nil {
		t.Fatal(err)
	}
	w, err := srv.Outbound.CreateWebhook(ctx, p, outbound.NewWebhook{Name: "w", URL: "http://127.0.0.1:9/x",
		Events: []string{"customer.created"}, Auth: &outbound.AuthInput{Type: "bearer", Token: "tok-123"}})
	if err != nil {
		t.Fatal(err)
	}
	wkey := srv.Keys.Webhook(p.AccountID, w.ID)
	if v, _ := rdb.HGet(ctx, wkey, "secret").Result(); !strings.HasPrefix(v, "hlenc1:k1:") {
		t.Fatalf("secret stored as %q, want sealed under k1", v)
	}

	env["HOOKLINE_SECRET_KEYS"] = k2 + "," + k1
	out.Reset()
	if code := run(ctx, []string{"admin", "rotate-secrets"}, envOf(env), &out, &errb); code != 0 {
		t.Fatalf("rotate-secrets exit %d: %s", code, errb.String())
	}
	var res struct {
		KeyID         string `json:"key_id"`
		WebhookValues int    `json:"webhook_values"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.KeyID != "k2" || res.WebhookValues < 2 {
		t.Fatalf("rotate-secrets printed %q: want key k2 and at least the secret and the token re-sealed", out.String())
	}
	for _, f := range []string{"secret", "auth_secret"} {
		if v, _ := rdb.HGet(ctx, wkey, f).Result(); !strings.HasPrefix(v, "hlenc1:k2:") {
			t.Fatalf("%s after rotation: %q, want sealed under k2", f, v)
		}
	}
	// The old key can now go: k2 alone opens what was re-sealed.
	only2, _ := secrets.Parse(k2)
	stored, _ := rdb.HGet(ctx, wkey, "auth_secret").Result()
	if plain, err := only2.Open(stored, wkey+"#auth_secret"); err != nil || plain != "tok-123" {
		t.Fatalf("after dropping k1: %q, %v", plain, err)
	}
}
