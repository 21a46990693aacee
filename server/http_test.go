package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/apitest"
)

func TestHTTPConventions(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	k := api.NewAccount("A").Key

	tests := []struct {
		name, method, path string
		body               any
		headers            []string
		want               int
		code               string
	}{
		{"unknown route", "GET", "/v1/nothing", nil, nil, 404, "not_found"},
		{"unknown top route", "GET", "/nothing", nil, nil, 404, "not_found"},
		{"wrong method", "PUT", "/v1/customers", map[string]any{}, nil, 405, "method_not_allowed"},
		{"malformed json", "POST", "/v1/customers", `{"name":`, nil, 400, "bad_request"},
		{"not an object", "POST", "/v1/customers", `[1,2]`, nil, 400, "bad_request"},
		{"trailing data", "POST", "/v1/customers", `{"name":"a","email":"a@example.com"} {}`, nil, 400, "bad_request"},
		{"empty body", "POST", "/v1/customers", ``, nil, 400, "bad_request"},
		{"form body", "POST", "/v1/customers", `name=a`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"gzip body", "POST", "/v1/customers", `xx`, []string{"Content-Encoding", "gzip"}, 415, "unsupported_media_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := api.With(t).Do(tc.method, tc.path, k, tc.body, tc.headers...)
			if r.Status != tc.want || r.ErrorCode() != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tc.want, tc.code)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content-type %q", ct)
			}
		})
	}
}

func TestBodyOver1MiBIs413(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	k := api.NewAccount("A").Key
	req := api.Request("POST", "/v1/customers", k, `{"name":"a","email":"a@example.com","notes":"`+strings.Repeat("a", 1<<20)+`"}`)
	req.URL, _ = url.Parse(api.URL() + "/v1/customers")
	req.RequestURI = ""
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	r := &apitest.Resp{T: t, Status: res.StatusCode, Header: res.Header, Body: body}
	apitest.CheckResponse(t, req, r)
	if r.Want(413).ErrorCode() != "payload_too_large" {
		t.Fatalf("body %s", body)
	}
	var page struct{ Data []any }
	api.Do("GET", "/v1/customers", k, nil).Want(200).JSON(&page)
	if len(page.Data) != 0 {
		t.Fatal("an oversized create was stored")
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	r := api.Do("GET", "/healthz", "", nil, "X-Request-ID", "abc-123")
	if got := r.Header.Get("X-Request-ID"); got != "abc-123" {
		t.Fatalf("X-Request-ID = %q, want the client's", got)
	}
	r = api.Do("GET", "/healthz", "", nil, "X-Request-ID", "bad id with spaces")
	if got := r.Header.Get("X-Request-ID"); !strings.HasPrefix(got, "req_") {
		t.Fatalf("X-Request-ID = %q, want a fresh req_ id", got)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.Do("GET", "/healthz", "", nil).Want(200)
	api.Do("GET", "/readyz", "", nil).Want(200)
	k := api.NewAccount("A").Key
	api.Do("GET", "/v1/me", k, nil).Want(200)
	r := api.Do("GET", "/metrics", "", nil).Want(200)
	if !strings.Contains(string(r.Body), `hookline_http_requests_total{method="GET",route="/v1/me",status="200"} 1`) {
		t.Fatalf("metrics lack the request counter:\n%s", r.Body)
	}
}

func TestReadyz_RedisDown(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_ = api.Server.Redis.Close()
	r := api.Do("GET", "/readyz", "", nil).Want(503)
	if r.ErrorCode() != "unavailable" {
		t.Fatalf("code %q", r.ErrorCode())
	}
	_, _ = io.Discard.Write(nil)
}

// When Redis cannot be reached, a write answers 503 unavailable with
// Retry-After (nothing was written; retry with the same Idempotency-Key),
// never a generic 500.
func TestWritesAnswer503WhenRedisIsDown(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")
	_ = api.Server.Redis.Close()
	r := api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "Ann", "email": "ann@example.com"},
		"Idempotency-Key", "c-1").Want(503)
	if r.ErrorCode() != "unavailable" || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("code %q Retry-After %q, want unavailable and 1", r.ErrorCode(), r.Header.Get("Retry-After"))
	}
}

// F24 and F22: every answer (success or error) says nosniff and no-store,
// and an unauthenticated multipart body is refused for its missing key, not
// parsed first.
func TestHardeningHeadersAndNoPreParse(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("A")
	for _, r := range []*apitest.Resp{
		api.Do("GET", "/v1/me", acct.Key, nil).Want(200),
		api.Do("GET", "/v1/me", "", nil).Want(401),
	} {
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("headers %v lack nosniff/no-store", r.Header)
		}
	}
	var b strings.Builder
	for i := 0; i < 1200; i++ {
		fmt.Fprintf(&b, "--XX\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i)
	}
	b.WriteString("--XX--\r\n")
	api.Do("POST", "/v1/customers", "", b.String(), "Content-Type", "multipart/form-data; boundary=XX").Want(401)
}

// F24: /metrics is not open to anyone in production: behind the token when
// one is set, absent when there is none (or when it has its own listener).
func TestMetrics_ProductionNeedsTheToken(t *testing.T) {
	t.Parallel()
	const token = "metrics-token-0123456789"
	api := apitest.New(t, apitest.WithEnv("HOOKLINE_MODE", "production"), apitest.WithEnv("HOOKLINE_METRICS_TOKEN", token))
	api.Probe("GET", "/metrics", "", nil).Want(401)
	api.Probe("GET", "/metrics", "", nil, "Authorization", "Bearer wrong-token-0123456789").Want(401)
	if r := api.Probe("GET", "/metrics", "", nil, "Authorization", "Bearer "+token).Want(200); !strings.Contains(string(r.Body), "go_goroutines") {
		t.Fatalf("metrics body: %.200s", r.Body)
	}
	bare := apitest.New(t, apitest.WithEnv("HOOKLINE_MODE", "production"))
	bare.Probe("GET", "/metrics", "", nil).Want(404)
	own := apitest.New(t, apitest.WithEnv("HOOKLINE_METRICS_ADDR", "127.0.0.1:0"))
	own.Probe("GET", "/metrics", "", nil).Want(404)
}
