package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/httpapi"
)

// One status table, several renderers: a surface that mounts its own
// renderer gets its own body shape with the status and Retry-After the
// table gives; every other route keeps the JSON API's body.
func TestRenderWith_PerSurfaceBodiesShareTheStatusTable(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: httpapi.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	plain := func(c *fiber.Ctx, status int, e *apperr.Error) error {
		return c.Status(status).SendString("plain:" + e.Code + ":" + e.Message)
	}
	other := app.Group("/other", httpapi.RenderWith(plain))
	fail := func(c *fiber.Ctx) error { return apperr.RateLimited("slow down", 3*time.Second) }
	other.Get("/x", fail)
	app.Get("/v1/x", fail)

	tests := []struct{ path, body string }{
		{"/other/x", "plain:rate_limited:slow down"},
		{"/v1/x", `{"error":{"code":"rate_limited","message":"slow down"}}`},
	}
	for _, tc := range tests {
		res, err := app.Test(httptest.NewRequest("GET", tc.path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 429 || res.Header.Get("Retry-After") != "3" || string(body) != tc.body {
			t.Fatalf("%s: got %d Retry-After=%q %s, want 429 Retry-After=3 %s", tc.path, res.StatusCode, res.Header.Get("Retry-After"), body, tc.body)
		}
	}
}

// F12: each credential gets its own bucket; past it, 429 with Retry-After,
// and another credential is not affected.
func TestKeyRate(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: httpapi.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	app.Use(httpapi.Authenticate(func(_ context.Context, raw string) (auth.Principal, error) {
		return auth.Principal{AccountID: "acc_1", Credential: auth.Credential{Kind: auth.KindKey, ID: raw}}, nil
	}), httpapi.KeyRate(1, 10))
	app.Get("/x", func(c *fiber.Ctx) error { return c.SendStatus(200) })
	get := func(key string) *http.Response {
		req := httptest.NewRequest("GET", "/x", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// The burst is two requests at 1/s; the third is refused.
	for i := 0; i < 2; i++ {
		if res := get("hk_a"); res.StatusCode != 200 {
			t.Fatalf("request %d: %d", i+1, res.StatusCode)
		}
	}
	res := get("hk_a")
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d Retry-After=%q, want 429 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if res := get("hk_b"); res.StatusCode != 200 {
		t.Fatalf("another key: %d, want 200", res.StatusCode)
	}
}
