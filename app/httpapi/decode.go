package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/validate"
)

// Body returns a copy of the raw request body. It refuses compressed bodies:
// Fiber would inflate them past the body limit.
func Body(c *fiber.Ctx) ([]byte, error) {
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return nil, apperr.New(apperr.CodeUnsupportedMedia, "compressed request bodies are not accepted")
	}
	return bytes.Clone(c.BodyRaw()), nil
}

// LimitBody refuses request bodies over max bytes with a 413.
func LimitBody(max int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(c.BodyRaw()) > max {
			return apperr.TooLarge(fmt.Sprintf("request body is larger than the %d-byte limit", max))
		}
		return c.Next()
	}
}

// JSONBody returns a copy of the raw body of a request that must be JSON:
// a Content-Type other than application/json (absent is accepted) or a
// compressed body is a 415.
func JSONBody(c *fiber.Ctx) ([]byte, error) {
	ct := c.Get(fiber.HeaderContentType)
	if ct != "" && !strings.HasPrefix(strings.ToLower(ct), fiber.MIMEApplicationJSON) {
		return nil, apperr.New(apperr.CodeUnsupportedMedia, "send the body as application/json")
	}
	return Body(c)
}

// DecodeJSON decodes the request body into v (a pointer to a struct) and
// validates it. A malformed body is a 400; unknown fields, wrong types and
// failed validation are a 422 naming each field.
func DecodeJSON(c *fiber.Ctx, v any) error {
	body, err := JSONBody(c)
	if err != nil {
		return err
	}
	return DecodeBytes(body, v)
}

// DecodeBytes is DecodeJSON for a body already read.
func DecodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.BadRequest("the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.BadRequest("malformed JSON: unexpected data after the object")
	}
	return validate.Struct(v)
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return apperr.BadRequest("malformed JSON: " + strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return apperr.BadRequest("the request body must be a JSON object")
		}
		return apperr.InvalidField(typ.Field, "must be "+article(typ.Type.Kind()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.InvalidField(name, "is not a known field")
	}
	return apperr.BadRequest("malformed JSON: " + strings.TrimPrefix(err.Error(), "json: "))
}

func article(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}
