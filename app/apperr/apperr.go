// Package apperr is Hookline's one error vocabulary. Lower layers create an
// *Error where the meaning is known; only app/httpapi maps codes to HTTP
// statuses and renders them. It imports nothing from the web stack.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Codes clients see in {"error": {"code": …}}.
const (
	CodeBadRequest       = "bad_request"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeIdempotencyBusy  = "idempotency_in_flight"
	CodeIdempotencyReuse = "idempotency_key_reused"
	CodePayloadTooLarge  = "payload_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeValidation       = "validation_failed"
	CodeRateLimited      = "rate_limited"
	CodeLoopDetected     = "loop_detected"
	CodeLoopSuspended    = "loop_suspended"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal_error"
)

// FieldError names one invalid input field by its JSON name.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error whose Code and Message are safe to show to a client.
// Cause is never shown; it is kept for logs and errors.Is/As.
type Error struct {
	Code       string
	Message    string
	Fields     []FieldError
	Permission string        // the missing permission, for forbidden
	RetryAfter time.Duration // for rate_limited and similar
	Cause      error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsCode reports whether err carries an *Error with the given code.
func IsCode(err error, code string) bool {
	e := As(err)
	return e != nil && e.Code == code
}

// New returns an *Error with a code and message.
func New(code, message string) *Error { return &Error{Code: code, Message: message} }

// NotFound reports that a resource of the given kind does not exist or is
// not the caller's; the two look the same so ids cannot be probed.
func NotFound(kind string) *Error {
	return &Error{Code: CodeNotFound, Message: kind + " not found"}
}

// Forbidden reports a missing permission, naming it.
func Forbidden(permission string) *Error {
	return &Error{
		Code:       CodeForbidden,
		Message:    fmt.Sprintf("this action needs the %q permission", permission),
		Permission: permission,
	}
}

// Unauthorized reports missing or bad credentials.
func Unauthorized(message string) *Error {
	return &Error{Code: CodeUnauthorized, Message: message}
}

// Conflict reports a state conflict, such as a duplicate unique field.
func Conflict(message string) *Error { return &Error{Code: CodeConflict, Message: message} }

// BadRequest reports a malformed request.
func BadRequest(message string) *Error { return &Error{Code: CodeBadRequest, Message: message} }

// Invalid reports one or more invalid fields.
func Invalid(fields ...FieldError) *Error {
	msg := "the request has invalid fields"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Code: CodeValidation, Message: msg, Fields: fields}
}

// InvalidField is Invalid for a single field.
func InvalidField(field, message string) *Error {
	return Invalid(FieldError{Field: field, Message: message})
}

// TooLarge reports a body or value over its limit.
func TooLarge(message string) *Error { return &Error{Code: CodePayloadTooLarge, Message: message} }

// RateLimited reports a rate limit; retryAfter becomes the Retry-After header.
func RateLimited(message string, retryAfter time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Message: message, RetryAfter: retryAfter}
}
