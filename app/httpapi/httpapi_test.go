package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookline/hookline/app/httpapi"
)

func TestPanicIs500WithoutInternals(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	app := fiber.New(fiber.Config{ErrorHandler: httpapi.ErrorHandler(log)})
	app.Use(httpapi.Observe(log, httpapi.NewMetrics(prometheus.NewRegistry())))
	app.Get("/boom", func(c *fiber.Ctx) error { panic("secret internal detail") })
	app.Get("/err", func(c *fiber.Ctx) error { return io.ErrUnexpectedEOF })

	for _, path := range []string{"/boom", "/err"} {
		res, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 500 || string(body) != `{"error":{"code":"internal_error","message":"internal error"}}` {
			t.Fatalf("%s: %d %s", path, res.StatusCode, body)
		}
		if res.Header.Get("X-Request-ID") == "" {
			t.Fatalf("%s: no request id", path)
		}
	}
	if !strings.Contains(logs.String(), "secret internal detail") {
		t.Fatal("the panic was not logged for operators")
	}
	if !strings.Contains(logs.String(), `"status":500`) {
		t.Fatalf("access log lacks the 500: %s", logs.String())
	}
}

func TestAccessLogHasNoSecrets(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	app := fiber.New(fiber.Config{ErrorHandler: httpapi.ErrorHandler(log)})
	app.Use(httpapi.Observe(log, nil))
	app.Post("/in/:token", func(c *fiber.Ctx) error { return c.SendStatus(204) })
	req := httptest.NewRequest("POST", "/in/tok_supersecret?sig=querysecret", strings.NewReader(`{"password":"bodysecret"}`))
	req.Header.Set("Authorization", "Bearer hk_headersecret")
	if _, err := app.Test(req, -1); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"supersecret", "querysecret", "bodysecret", "headersecret"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("log contains %q: %s", secret, logs.String())
		}
	}
	if !strings.Contains(logs.String(), `"route":"/in/:token"`) {
		t.Fatalf("log lacks the route pattern: %s", logs.String())
	}
}

func TestDecodeBytes(t *testing.T) {
	type in struct {
		Name  string   `json:"name" validate:"required,max=3"`
		Email string   `json:"email" validate:"omitempty,email"`
		Tags  []string `json:"tags" validate:"max=2,dive,required"`
		Nest  struct {
			Kind string `json:"kind" validate:"omitempty,oneof=a b"`
		} `json:"nest"`
	}
	tests := []struct {
		body, code, field, message string
	}{
		{`{"name":"abcd"}`, "validation_failed", "name", "must be at most 3 characters"},
		{`{}`, "validation_failed", "name", "is required"},
		{`{"name":"a","email":"x"}`, "validation_failed", "email", "must be a valid email address"},
		{`{"name":"a","tags":["x",""]}`, "validation_failed", "tags[1]", "is required"},
		{`{"name":"a","tags":["x","y","z"]}`, "validation_failed", "tags", "must have at most 2 items"},
		{`{"name":"a","nest":{"kind":"c"}}`, "validation_failed", "nest.kind", "must be one of: a, b"},
		{`{"name":1}`, "validation_failed", "name", "must be a string"},
		{`{"name":"a","x":1}`, "validation_failed", "x", "is not a known field"},
		{`{"name":`, "bad_request", "", ""},
		{`nope`, "bad_request", "", ""},
		{`"str"`, "bad_request", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			var v in
			err := httpapi.DecodeBytes([]byte(tc.body), &v)
			ae := asApp(err)
			if ae == nil || ae.code != tc.code {
				t.Fatalf("got %v, want code %s", err, tc.code)
			}
			if tc.field != "" && (len(ae.fields) != 1 || ae.fields[0] != tc.field+": "+tc.message) {
				t.Fatalf("fields %v, want %s: %s", ae.fields, tc.field, tc.message)
			}
		})
	}
}

// F10 (probe E9): a Hookline-Chain with a control character was carried
// into every delivery the write caused, and each failed in Go's client. A
// malformed chain now starts a new one.
func TestCausality_RefusesUnsafeChains(t *testing.T) {
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error {
		chain, hop, ok := httpapi.Causality(c)
		return c.SendString(fmt.Sprintf("%s|%d|%v", chain, hop, ok))
	})
	tests := []struct{ chain, hop, want string }{
		{"chn_01jd9q6m3v6f0t1r2y3x4z5a6b", "2", "chn_01jd9q6m3v6f0t1r2y3x4z5a6b|2|true"},
		{"partner-chain_1", "0", "partner-chain_1|0|true"},
		{"bad\x01chain", "0", "|0|false"},
		{"has space", "1", "|0|false"},
		{"a;b", "1", "|0|false"},
		{strings.Repeat("a", 65), "1", "|0|false"},
		{"chn_x", "", "|0|false"},
		{"chn_x", "-1", "|0|false"},
	}
	for _, tc := range tests {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Hookline-Chain", tc.chain)
		if tc.hop != "" {
			req.Header.Set("Hookline-Hop", tc.hop)
		}
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		if string(body) != tc.want {
			t.Errorf("chain %q hop %q: got %q, want %q", tc.chain, tc.hop, body, tc.want)
		}
	}
}
