// Package httpapi holds Hookline's HTTP conventions: the one error renderer,
// JSON decoding with field-level validation, authentication and permission
// middleware, request ids, access logs, metrics and list paging. It is the
// only package that maps errors to HTTP statuses.
package httpapi

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/store"
)

var statusOf = map[string]int{
	apperr.CodeBadRequest:       fiber.StatusBadRequest,
	apperr.CodeUnauthorized:     fiber.StatusUnauthorized,
	apperr.CodeForbidden:        fiber.StatusForbidden,
	apperr.CodeLoopSuspended:    fiber.StatusForbidden,
	apperr.CodeNotFound:         fiber.StatusNotFound,
	apperr.CodeMethodNotAllowed: fiber.StatusMethodNotAllowed,
	apperr.CodeConflict:         fiber.StatusConflict,
	apperr.CodeIdempotencyBusy:  fiber.StatusConflict,
	apperr.CodeIdempotencyReuse: fiber.StatusUnprocessableEntity,
	apperr.CodePayloadTooLarge:  fiber.StatusRequestEntityTooLarge,
	apperr.CodeUnsupportedMedia: fiber.StatusUnsupportedMediaType,
	apperr.CodeValidation:       fiber.StatusUnprocessableEntity,
	apperr.CodeRateLimited:      fiber.StatusTooManyRequests,
	apperr.CodeLoopDetected:     fiber.StatusLoopDetected,
	apperr.CodeUnavailable:      fiber.StatusServiceUnavailable,
	apperr.CodeInternal:         fiber.StatusInternalServerError,
}

// Status is the HTTP status for an error code.
func Status(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return fiber.StatusInternalServerError
}

// ErrorBody is DESIGN.md's error shape.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code       string              `json:"code"`
	Message    string              `json:"message"`
	Fields     []apperr.FieldError `json:"fields,omitempty"`
	Permission string              `json:"permission,omitempty"`
}

// fromFiber maps Fiber's own errors (unknown route, 405, body limit, …) onto
// the vocabulary.
func fromFiber(fe *fiber.Error) *apperr.Error {
	switch fe.Code {
	case fiber.StatusNotFound:
		return apperr.New(apperr.CodeNotFound, "no such route")
	case fiber.StatusMethodNotAllowed:
		return apperr.New(apperr.CodeMethodNotAllowed, "method not allowed on this route")
	case fiber.StatusRequestEntityTooLarge:
		return apperr.TooLarge("request body is larger than the 1 MiB limit")
	case fiber.StatusBadRequest:
		return apperr.BadRequest("malformed request")
	case fiber.StatusUnsupportedMediaType:
		return apperr.New(apperr.CodeUnsupportedMedia, fe.Message)
	case fiber.StatusTooManyRequests:
		return apperr.RateLimited("too many requests", 0)
	case fiber.StatusRequestTimeout:
		return apperr.BadRequest("request timed out")
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return apperr.TooLarge("request headers are too large")
	}
	if fe.Code >= 500 {
		return apperr.New(apperr.CodeInternal, "internal error")
	}
	return apperr.BadRequest(fe.Message)
}

// Renderer writes an error response in one surface's format, with the
// status already chosen from the one table (Status). The JSON API's is
// RenderJSON; the dashboard renders HTML, IFTTT's Service API
// {"errors":[{"message"}]}, the OAuth token endpoint RFC 6749 bodies.
type Renderer func(c *fiber.Ctx, status int, e *apperr.Error) error

// RenderJSON writes DESIGN.md's error body: the default renderer.
func RenderJSON(c *fiber.Ctx, status int, e *apperr.Error) error {
	return c.Status(status).JSON(ErrorBody{Error: ErrorDetail{
		Code: e.Code, Message: e.Message, Fields: e.Fields, Permission: e.Permission,
	}})
}

// RenderWith makes the routes after it (a group of one surface) render
// their errors with r instead of RenderJSON.
func RenderWith(r Renderer) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Locals(localRenderer, r)
		return c.Next()
	}
}

// ErrorHandler is the single writer of error responses, set as
// fiber.Config.ErrorHandler. It maps any error onto the vocabulary, picks
// the status from the one table, sets Retry-After, and hands the rest to
// the surface's Renderer (RenderWith; RenderJSON by default). Unknown
// errors become 500 "internal error" and are logged once, with the request
// id; their text never reaches the client.
func ErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		ae := apperr.As(err)
		var fe *fiber.Error
		switch {
		case ae != nil:
		case errors.As(err, &fe):
			ae = fromFiber(fe)
		case errors.Is(err, store.ErrUnavailable):
			// Redis (the system of record) cannot be reached: the write did
			// not happen, and the client should retry with the same
			// Idempotency-Key shortly, not treat it as a bug.
			log.Warn("redis unreachable", "err", err, "request_id", RequestID(c), "route", routePath(c))
			ae = apperr.New(apperr.CodeUnavailable, "the service is briefly unavailable; retry shortly with the same Idempotency-Key")
			ae.RetryAfter = time.Second
		default:
			log.Error("internal error", "err", err, "request_id", RequestID(c),
				"method", c.Method(), "route", routePath(c))
			ae = apperr.New(apperr.CodeInternal, "internal error")
		}
		status := Status(ae.Code)
		if ae.RetryAfter > 0 {
			secs := int(ae.RetryAfter.Seconds() + 0.999)
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
		}
		render, ok := c.Locals(localRenderer).(Renderer)
		if !ok {
			render = RenderJSON
		}
		return render(c, status, ae)
	}
}
