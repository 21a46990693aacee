// Package apitest drives the whole Hookline HTTP app in-process against a
// real Redis (internal/redistest) and checks every response against
// docs/openapi.yaml, so the document cannot drift from the code.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/config"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/secrets"
	"github.com/hookline/hookline/internal/redistest"
	"github.com/hookline/hookline/outbound"
	"github.com/hookline/hookline/server"
)

// API is one in-process gateway on its own Redis database.
type API struct {
	T        testing.TB
	Server   *server.Server
	App      *fiber.App
	RedisURL string
	// Env is the configuration the gateway was built from, for tests that
	// start more processes on the same Redis (the same secret keys).
	Env map[string]string

	listenOnce *sync.Once
	base       string
}

// Option adjusts the configuration or server options before wiring.
type Option func(env map[string]string, o *server.Options)

// WithEnv sets a HOOKLINE_* variable.
func WithEnv(name, value string) Option {
	return func(env map[string]string, _ *server.Options) { env[name] = value }
}

// WithClock sets the server's clock.
func WithClock(now func() time.Time) Option {
	return func(_ map[string]string, o *server.Options) { o.Now = now }
}

// New wires a gateway in development mode on a fresh Redis database.
func New(t testing.TB, opts ...Option) *API {
	t.Helper()
	url := redistest.URL(t)
	// Every API test runs with secrets sealed at rest, as production does.
	// The per-key request rate is set out of reach (tests and benchmarks
	// send bursts with one key); WithEnv lowers it where a test needs to.
	env := map[string]string{"HOOKLINE_MODE": "development", "HOOKLINE_REDIS_URL": url, "HOOKLINE_SECRET_KEYS": secrets.NewKey("test"),
		"HOOKLINE_KEY_RATE": "1000000"}
	so := server.Options{BcryptCost: bcrypt.MinCost, Version: "test"}
	for _, o := range opts {
		o(env, &so)
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	rdb := redistest.ClientURL(t, url)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("HOOKLINE_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv := server.New(cfg, rdb, log, so)
	return &API{T: t, Server: srv, App: srv.HTTP(), RedisURL: url, Env: env, listenOnce: &sync.Once{}}
}

// With returns a copy of a that reports failures to t, for subtests.
func (a *API) With(t testing.TB) *API {
	c := *a
	c.T = t
	return &c
}

// URL serves the app on a real 127.0.0.1 port (once) and returns its base
// URL, for tests that need a real connection (body limits, keep-alive).
func (a *API) URL() string {
	a.T.Helper()
	a.listenOnce.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			a.T.Fatalf("listen: %v", err)
		}
		go func() { _ = a.App.Listener(ln) }()
		a.T.Cleanup(func() { _ = a.App.ShutdownWithTimeout(5 * time.Second) })
		a.base = "http://" + ln.Addr().String()
	})
	return a.base
}

// StartWorker runs the delivery worker (Asynq handlers and loops) in this
// process until the test ends.
func (a *API) StartWorker() {
	a.T.Helper()
	w := a.Server.Worker()
	if err := w.Start(); err != nil {
		a.T.Fatalf("start worker: %v", err)
	}
	a.T.Cleanup(w.Stop)
}

// WithOutbound adjusts the delivery engine's options.
func WithOutbound(f func(*outbound.Options)) Option {
	return func(_ map[string]string, o *server.Options) { o.Outbound = f }
}

// WithEvents adjusts the event log's options.
func WithEvents(f func(*events.Options)) Option {
	return func(_ map[string]string, o *server.Options) { o.Events = f }
}

// WaitFor polls cond until it holds, failing the test after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Account is a test account and its owner's key (every permission).
type Account struct {
	ID, UserID, Key string
}

// NewAccount creates an account through the service, as the admin command does.
func (a *API) NewAccount(name string) Account {
	a.T.Helper()
	email := strings.ToLower(strings.ReplaceAll(name, " ", "")) + fmt.Sprintf("%d@example.com", time.Now().UnixNano())
	c, err := a.Server.Accounts.CreateAccount(context.Background(), accounts.NewAccount{Name: name, Email: email, Password: "password123"})
	if err != nil {
		a.T.Fatalf("create account: %v", err)
	}
	return Account{ID: c.Account.ID, UserID: c.Owner.ID, Key: c.RawKey}
}

// Key mints a key of the account's owner holding exactly perms.
func (a *API) Key(acct Account, perms ...string) string {
	a.T.Helper()
	_, raw, err := a.Server.Accounts.AdminCreateKey(context.Background(), acct.ID, accounts.NewKey{Name: "test " + strings.Join(perms, " "), Permissions: perms})
	if err != nil {
		a.T.Fatalf("create key: %v", err)
	}
	return raw
}

// Resp is a response read in full.
type Resp struct {
	T      testing.TB
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request with an API key (if not empty) and a JSON body (nil for
// none; a string or []byte is sent as is), plus header name/value pairs.
// The response must match docs/openapi.yaml.
func (a *API) Do(method, path, key string, body any, headers ...string) *Resp {
	a.T.Helper()
	req := a.Request(method, path, key, body, headers...)
	return a.Send(req)
}

// Request builds a request as Do does, for tests that adjust it.
func (a *API) Request(method, path, key string, body any, headers ...string) *http.Request {
	a.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.T.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// Send runs a request through the app and checks the response against the
// OpenAPI document.
func (a *API) Send(req *http.Request) *Resp {
	a.T.Helper()
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := a.App.Test(req, -1)
	if err != nil {
		a.T.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	r := &Resp{T: a.T, Status: res.StatusCode, Header: res.Header, Body: body}
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	CheckResponse(a.T, req, r)
	return r
}

// Probe sends a request as Do does but without checking it against the
// OpenAPI document: for security probes on paths the contract does not
// name (case variants, crafted ids).
func (a *API) Probe(method, path, key string, body any, headers ...string) *Resp {
	a.T.Helper()
	res, err := a.App.Test(a.Request(method, path, key, body, headers...), -1)
	if err != nil {
		a.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &Resp{T: a.T, Status: res.StatusCode, Header: res.Header, Body: b}
}

// JSON decodes the body into v.
func (r *Resp) JSON(v any) {
	r.T.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.T.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Map decodes the body as an object.
func (r *Resp) Map() map[string]any {
	r.T.Helper()
	var m map[string]any
	r.JSON(&m)
	return m
}

// Want fails the test unless the status is want.
func (r *Resp) Want(status int) *Resp {
	r.T.Helper()
	if r.Status != status {
		r.T.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	return r
}

// ErrorCode returns error.code of an error body.
func (r *Resp) ErrorCode() string {
	r.T.Helper()
	var b struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	r.JSON(&b)
	return b.Error.Code
}

// Str returns a top-level string field.
func (r *Resp) Str(name string) string {
	r.T.Helper()
	s, _ := r.Map()[name].(string)
	return s
}

var (
	docOnce sync.Once
	docErr  error
	router  routers.Router
)

func loadDoc() (routers.Router, error) {
	docOnce.Do(func() {
		path, err := findDoc()
		if err != nil {
			docErr = err
			return
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(path)
		if err != nil {
			docErr = fmt.Errorf("load %s: %w", path, err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			docErr = fmt.Errorf("%s is not valid OpenAPI: %w", path, err)
			return
		}
		router, docErr = gorillamux.NewRouter(doc)
	})
	return router, docErr
}

func findDoc() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "docs", "openapi.yaml"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// CheckResponse fails t when the response does not match the OpenAPI
// document: an undocumented route, status, header or body shape. Requests to
// routes the document does not have are allowed only when they answer 404,
// 405 or 401 (tests of unknown routes).
func CheckResponse(t testing.TB, req *http.Request, r *Resp) {
	t.Helper()
	rt, err := loadDoc()
	if err != nil {
		t.Fatalf("openapi: %v", err)
	}
	u := *req.URL
	u.Scheme, u.Host = "http", "localhost"
	probe := req.Clone(context.Background())
	probe.URL = &u
	probe.Host = "localhost"
	route, params, err := rt.FindRoute(probe)
	if err != nil {
		if r.Status == 404 || r.Status == 405 || r.Status == 401 {
			return
		}
		t.Fatalf("openapi: %s %s is not in docs/openapi.yaml (status %d): %v", req.Method, req.URL.Path, r.Status, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: probe, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: r.Status,
		Header: r.Header,
		Body:   io.NopCloser(bytes.NewReader(r.Body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("openapi: %s %s → %d does not match docs/openapi.yaml: %v\nbody: %s", req.Method, req.URL.Path, r.Status, err, r.Body)
	}
}
