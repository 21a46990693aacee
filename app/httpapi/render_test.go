package httpapi_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
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
