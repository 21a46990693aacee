package ifttt

import (
	"encoding/json"
	"errors"
	"fmt"

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
// comes from the one table, but for 403. IFTTT's Service API knows 200,
// 400, 401, 404, 500 and 503 only, and a 401 would tell IFTTT the token is
// bad: a missing permission (or a paused credential) is a 400 whose
// message, shown in the user's activity feed, says what to ask for.
func renderService(c *fiber.Ctx, status int, e *apperr.Error) error {
	se := serviceError{Message: e.Message}
	if errors.Is(e, skipError) {
		se.Status = "SKIP"
	}
	if status == fiber.StatusForbidden {
		status = fiber.StatusBadRequest
		if e.Code == apperr.CodeForbidden && e.Permission != "" {
			se.Message = fmt.Sprintf("Your Hookline user lacks the %q permission this needs: ask your account's manager for it.", e.Permission)
		}
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
