package ifttt

import (
	"encoding/json"
	"errors"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
)

const contentJSON = "application/json; charset=utf-8"

// reply writes v as JSON with the charset IFTTT's tests expect.
func reply(c *fiber.Ctx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, contentJSON)
	return c.Status(status).Send(b)
}

// skipError marks an action IFTTT should record as skipped, not failed
// (an update of a customer that does not exist).
var skipError = errors.New("ifttt: skip")

// serviceError is {"errors":[{"message"}]}, with "status":"SKIP" for a
// skipped action.
type serviceError struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message"`
}

// renderService renders errors on /ifttt/v1 in IFTTT's shape; the status
// comes from the one table.
func renderService(c *fiber.Ctx, status int, e *apperr.Error) error {
	se := serviceError{Message: e.Message}
	if errors.Is(e, skipError) {
		se.Status = "SKIP"
	}
	return reply(c, status, map[string]any{"errors": []serviceError{se}})
}

// renderToken renders errors on /oauth/token as RFC 6749 §5.2 bodies; the
// code is the go-oauth2 error the cause carries, else invalid_request for
// client errors and server_error for the rest.
func renderToken(c *fiber.Ctx, status int, e *apperr.Error) error {
	code := oerrors.ErrInvalidRequest
	for _, known := range []error{oerrors.ErrInvalidClient, oerrors.ErrInvalidGrant, oerrors.ErrUnsupportedGrantType,
		oerrors.ErrInvalidScope, oerrors.ErrUnauthorizedClient} {
		if errors.Is(e, known) {
			code = known
		}
	}
	if status >= 500 {
		code = oerrors.ErrServerError
	}
	if errors.Is(code, oerrors.ErrInvalidClient) && c.Get(fiber.HeaderAuthorization) != "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="hookline"`)
	}
	c.Set("Pragma", "no-cache")
	return reply(c, status, map[string]string{"error": code.Error(), "error_description": e.Message})
}
