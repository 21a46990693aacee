package ifttt_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/integrations/ifttt"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/redistest"
	"github.com/hookline/hookline/server"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

const (
	serviceKey   = "test-service-key-0123456789"
	clientID     = "ifttt-test-client"
	clientSecret = "test-client-secret-0123456789"
	serviceID    = "hookline_test"
	redirectURI  = "https://ifttt.com/channels/" + serviceID + "/authorize"
)

// clock is real time plus an offset tests move forward.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// newAPI wires a gateway with IFTTT on, notifications going to realtime
// (a local stand-in; "" for an unused port), short windows and retries.
func newAPI(t *testing.T, realtime string) (*apitest.API, *clock) {
	t.Helper()
	return newAPIWith(t, realtime, nil)
}

// newAPIWith is newAPI with more IFTTT options set by more (nil for none).
func newAPIWith(t *testing.T, realtime string, more func(*ifttt.Options)) (*apitest.API, *clock) {
	t.Helper()
	if realtime == "" {
		realtime = "http://127.0.0.1:9"
	}
	clk := &clock{}
	api := apitest.New(t,
		apitest.WithEnv("HOOKLINE_IFTTT_SERVICE_KEY", serviceKey),
		apitest.WithEnv("HOOKLINE_IFTTT_CLIENT_ID", clientID),
		apitest.WithEnv("HOOKLINE_IFTTT_CLIENT_SECRET", clientSecret),
		apitest.WithEnv("HOOKLINE_IFTTT_SERVICE_ID", serviceID),
		apitest.WithEnv("HOOKLINE_IFTTT_REALTIME_URL", realtime),
		apitest.WithClock(clk.Now),
		func(_ map[string]string, o *server.Options) {
			o.IFTTT = func(io *ifttt.Options) {
				io.NotifyWindow = 100 * time.Millisecond
				io.RetrySchedule = []time.Duration{300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
				io.GiveUpAfter = 20 * time.Second
				if more != nil {
					more(io)
				}
			}
		},
	)
	return api, clk
}

// client talks to a live server over real HTTP, as IFTTT does.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, api *apitest.API) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: api.URL(), http: &http.Client{
		Jar: jar, Timeout: 10 * time.Second,
		// Redirects to IFTTT are read, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type resp struct {
	t      *testing.T
	Status int
	Header http.Header
	Body   []byte
}

func (r *resp) Map() map[string]any {
	r.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		r.t.Fatalf("decode %q: %v", r.Body, err)
	}
	return m
}

func (r *resp) Want(status int) *resp {
	r.t.Helper()
	if r.Status != status {
		r.t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	return r
}

// Data returns the "data" member.
func (r *resp) Data() any { r.t.Helper(); return r.Map()["data"] }

// Items returns "data" as a list of objects.
func (r *resp) Items() []map[string]any {
	r.t.Helper()
	raw, _ := r.Data().([]any)
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		out[i], _ = x.(map[string]any)
	}
	return out
}

// ErrorMessage returns errors[0].message of an IFTTT error body, failing
// unless the body has exactly that shape.
func (r *resp) ErrorMessage() string {
	r.t.Helper()
	var b struct {
		Errors []struct {
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil || len(b.Errors) != 1 || b.Errors[0].Message == "" {
		r.t.Fatalf("not an IFTTT error body: %s", r.Body)
	}
	return b.Errors[0].Message
}

// do sends a request; body is JSON (a string is sent as is, url.Values as
// a form); headers are name/value pairs.
func (c *client) do(method, path string, body any, headers ...string) *resp {
	c.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &resp{t: c.t, Status: res.StatusCode, Header: res.Header, Body: b}
}

// ifttt sends a Service API request as IFTTT does: service key, bearer
// token (when not empty), a request id.
func (c *client) ifttt(method, path, token string, body any, headers ...string) *resp {
	c.t.Helper()
	h := append([]string{"IFTTT-Service-Key", serviceKey, "X-Request-ID", time.Now().Format(time.RFC3339Nano), "Accept", "application/json"}, headers...)
	if token != "" {
		h = append(h, "Authorization", "Bearer "+token)
	}
	return c.do(method, "/ifttt/v1"+path, body, h...)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hidden returns a page's hidden form fields.
func hidden(t *testing.T, page []byte) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllSubmatch(page, -1) {
		v.Set(string(m[1]), string(m[2]))
	}
	if v.Get("authorization") == "" || v.Get("csrf_token") == "" {
		t.Fatalf("no authorization form in page: %s", page)
	}
	return v
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
