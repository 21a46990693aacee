package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/idempotency"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// testApp runs the middleware over a handler that counts calls and can be
// held open; the account comes from a header so tenancy can be tested.
type testApp struct {
	app   *fiber.App
	calls atomic.Int64
	hold  chan struct{}
	fail  atomic.Bool
}

func newTestApp(t *testing.T) (*testApp, *idempotency.Store) {
	return newTestAppOn(t, redistest.Client(t))
}

func newTestAppOn(t *testing.T, rdb redis.UniversalClient) (*testApp, *idempotency.Store) {
	st := idempotency.New(rdb, store.NewKeys("t"), idempotency.Options{})
	ta := &testApp{hold: make(chan struct{})}
	close(ta.hold)
	app := fiber.New(fiber.Config{ErrorHandler: httpapi.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	app.Use(st.Middleware(func(c *fiber.Ctx) auth.Principal {
		return auth.Principal{AccountID: c.Get("X-Account"), Credential: auth.Credential{Kind: auth.KindKey, ID: "key_test"}}
	}))
	app.Post("/things", func(c *fiber.Ctx) error {
		n := ta.calls.Add(1)
		<-ta.hold
		if ta.fail.Load() {
			return errors.New("boom")
		}
		if strings.Contains(string(c.Body()), "invalid") {
			return httpapi.DecodeBytes([]byte(`{"x":1}`), &struct{}{})
		}
		return c.Status(201).JSON(fiber.Map{"n": n})
	})
	ta.app = app
	return ta, st
}

func (ta *testApp) post(t *testing.T, acct, key, body string) (int, string, string) {
	t.Helper()
	req := httptest.NewRequest("POST", "/things", strings.NewReader(body))
	req.Header.Set("X-Account", acct)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := ta.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header.Get("Idempotent-Replayed")
}

func TestReplay(t *testing.T) {
	t.Parallel()
	ta, _ := newTestApp(t)
	s1, b1, r1 := ta.post(t, "acc_a", "k1", `{"a":1}`)
	s2, b2, r2 := ta.post(t, "acc_a", "k1", `{"a":1}`)
	if s1 != 201 || r1 != "" || s2 != 201 || b2 != b1 || r2 != "true" {
		t.Fatalf("first %d %s %q, replay %d %s %q", s1, b1, r1, s2, b2, r2)
	}
	if ta.calls.Load() != 1 {
		t.Fatalf("handler ran %d times, want 1", ta.calls.Load())
	}
	// Keys are per account.
	if s, b, r := ta.post(t, "acc_b", "k1", `{"a":1}`); s != 201 || r != "" || b == b1 {
		t.Fatalf("other account got %d %s %q, want a fresh response", s, b, r)
	}
	// No key: no idempotency.
	ta.post(t, "acc_a", "", `{"a":1}`)
	ta.post(t, "acc_a", "", `{"a":1}`)
	if ta.calls.Load() != 4 {
		t.Fatalf("handler ran %d times, want 4", ta.calls.Load())
	}
}

func TestDifferentBodyIs422(t *testing.T) {
	t.Parallel()
	ta, _ := newTestApp(t)
	ta.post(t, "acc_a", "k1", `{"a":1}`)
	s, b, _ := ta.post(t, "acc_a", "k1", `{"a":2}`)
	if s != 422 || !strings.Contains(b, "idempotency_key_reused") {
		t.Fatalf("got %d %s, want 422 idempotency_key_reused", s, b)
	}
}

func TestInFlightIs409(t *testing.T) {
	t.Parallel()
	ta, _ := newTestApp(t)
	ta.hold = make(chan struct{})
	done := make(chan int)
	go func() {
		s, _, _ := ta.post(t, "acc_a", "k1", `{"a":1}`)
		done <- s
	}()
	deadline := time.Now().Add(5 * time.Second)
	for ta.calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("first request never reached the handler")
		}
		time.Sleep(time.Millisecond)
	}
	s, b, _ := ta.post(t, "acc_a", "k1", `{"a":1}`)
	if s != 409 || !strings.Contains(b, "idempotency_in_flight") {
		t.Fatalf("duplicate in flight got %d %s, want 409", s, b)
	}
	close(ta.hold)
	if s := <-done; s != 201 {
		t.Fatalf("first request got %d", s)
	}
	if s, _, r := ta.post(t, "acc_a", "k1", `{"a":1}`); s != 201 || r != "true" {
		t.Fatalf("after finishing: %d replayed=%q", s, r)
	}
}

func TestErrorsAreStoredButNot5xx(t *testing.T) {
	t.Parallel()
	ta, _ := newTestApp(t)
	// A 4xx is the answer to that request: replayed.
	s1, b1, _ := ta.post(t, "acc_a", "k4", `invalid`)
	s2, b2, r2 := ta.post(t, "acc_a", "k4", `invalid`)
	if s1 != 422 || s2 != 422 || b1 != b2 || r2 != "true" {
		t.Fatalf("4xx: %d %s then %d %s %q", s1, b1, s2, b2, r2)
	}
	// A 5xx is not stored: the retry runs again.
	ta.fail.Store(true)
	if s, _, _ := ta.post(t, "acc_a", "k5", `{}`); s != 500 {
		t.Fatalf("got %d, want 500", s)
	}
	ta.fail.Store(false)
	if s, _, r := ta.post(t, "acc_a", "k5", `{}`); s != 201 || r != "" {
		t.Fatalf("retry after 500: %d replayed=%q, want a fresh 201", s, r)
	}
}

func TestBadKey(t *testing.T) {
	t.Parallel()
	ta, _ := newTestApp(t)
	s, b, _ := ta.post(t, "acc_a", strings.Repeat("k", 300), `{}`)
	if s != 422 || !strings.Contains(b, "Idempotency-Key") {
		t.Fatalf("got %d %s", s, b)
	}
	if ta.calls.Load() != 0 {
		t.Fatal("handler ran for a bad key")
	}
}

// finishFailer refuses the transaction that stores a finished response,
// as Redis does while it loads its AOF after a restart (EXECABORT).
type finishFailer struct{ on *atomic.Bool }

func (finishFailer) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (finishFailer) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (f finishFailer) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if f.on.Load() && c.Name() == "hset" && strings.Contains(fmt.Sprint(c.Args()), "state done") {
				return errors.New("EXECABORT Transaction discarded because of previous errors.")
			}
		}
		return next(ctx, cmds)
	}
}

// When the work is done but its response cannot be stored, the client gets
// the handler's answer, not an error that invites a retry (it got a 500
// before); the key stays claimed, so a retry within the lease is a 409,
// not a second run.
func TestResponseNotStored_TheAnswerIsStillSent(t *testing.T) {
	rdb := redistest.Client(t)
	var fail atomic.Bool
	rdb.AddHook(finishFailer{&fail})
	ta, _ := newTestAppOn(t, rdb)
	fail.Store(true)
	if st, body, _ := ta.post(t, "acc_1", "k-stored-not", `{"a":1}`); st != 201 || !strings.Contains(body, `"n":1`) {
		t.Fatalf("answer when the response could not be stored = %d %s, want the handler's 201", st, body)
	}
	fail.Store(false)
	if st, body, _ := ta.post(t, "acc_1", "k-stored-not", `{"a":1}`); st != 409 {
		t.Fatalf("retry within the lease = %d %s, want 409 idempotency_in_flight", st, body)
	}
	if n := ta.calls.Load(); n != 1 {
		t.Fatalf("the handler ran %d times, want 1", n)
	}
}
