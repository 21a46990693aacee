package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
)

var (
	validateOnce sync.Once
	validate     *validator.Validate
)

// Validator returns the shared validator; field names in its errors are the
// JSON names.
func Validator() *validator.Validate {
	validateOnce.Do(func() {
		v := validator.New(validator.WithRequiredStructEnabled())
		v.RegisterTagNameFunc(func(f reflect.StructField) string {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				return ""
			}
			if name == "" {
				return f.Name
			}
			return name
		})
		// phone: digits with the usual separators, as people type them.
		_ = v.RegisterValidation("phone", func(fl validator.FieldLevel) bool {
			s := fl.Field().String()
			digits := 0
			for _, r := range s {
				switch {
				case r >= '0' && r <= '9':
					digits++
				case strings.ContainsRune("+-(). /x", r):
				default:
					return false
				}
			}
			return digits >= 3
		})
		validate = v
	})
	return validate
}

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

// DecodeJSON decodes the request body into v (a pointer to a struct) and
// validates it. A malformed body is a 400; unknown fields, wrong types and
// failed validation are a 422 naming each field.
func DecodeJSON(c *fiber.Ctx, v any) error {
	ct := c.Get(fiber.HeaderContentType)
	if ct != "" && !strings.HasPrefix(strings.ToLower(ct), fiber.MIMEApplicationJSON) {
		return apperr.New(apperr.CodeUnsupportedMedia, "send the body as application/json")
	}
	body, err := Body(c)
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
	return Validate(v)
}

// Validate runs the validator tags on v and converts failures to a 422.
func Validate(v any) error {
	err := Validator().Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return fmt.Errorf("httpapi: validate: %w", err)
	}
	fields := make([]apperr.FieldError, 0, len(ves))
	for _, fe := range ves {
		fields = append(fields, apperr.FieldError{Field: fieldPath(fe), Message: fieldMessage(fe)})
	}
	return apperr.Invalid(fields...)
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

// fieldPath is the dotted JSON path without the top-level struct's name.
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return fe.Field()
}

func fieldMessage(fe validator.FieldError) string {
	kind := fe.Kind()
	switch fe.Tag() {
	case "required", "required_if", "required_with", "required_without":
		return "is required"
	case "email":
		return "must be a valid email address"
	case "max", "lte":
		if kind == reflect.String {
			return "must be at most " + fe.Param() + " characters"
		}
		if kind == reflect.Slice || kind == reflect.Map {
			return "must have at most " + fe.Param() + " items"
		}
		return "must be at most " + fe.Param()
	case "min", "gte":
		if kind == reflect.String {
			return "must be at least " + fe.Param() + " characters"
		}
		if kind == reflect.Slice || kind == reflect.Map {
			return "must have at least " + fe.Param() + " items"
		}
		return "must be at least " + fe.Param()
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "datetime":
		if fe.Param() == "2006-01-02" {
			return "must be a date in the form YYYY-MM-DD"
		}
		return "must be a time in the form " + fe.Param()
	case "url", "http_url":
		return "must be an absolute URL"
	case "printascii":
		return "must be printable ASCII"
	case "e164":
		return "must be a phone number in E.164 form"
	case "phone":
		return "must be a phone number: digits with + - ( ) . or spaces"
	case "dive":
		return "is invalid"
	}
	return "is invalid (" + fe.Tag() + ")"
}
