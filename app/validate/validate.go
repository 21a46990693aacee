// Package validate checks typed input for every surface: the validator
// tags on input structs (with Hookline's own rules, such as phone) turned
// into field-level apperr errors named by JSON field, and the small checks
// several packages share (header names, printable ASCII). It knows nothing
// of HTTP.
package validate

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"

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

// Struct runs the validator tags on v and converts failures to a 422.
func Struct(v any) error {
	err := Validator().Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return fmt.Errorf("validate: %w", err)
	}
	fields := make([]apperr.FieldError, 0, len(ves))
	for _, fe := range ves {
		fields = append(fields, apperr.FieldError{Field: fieldPath(fe), Message: fieldMessage(fe)})
	}
	return apperr.Invalid(fields...)
}

// headerName is an HTTP header field name (RFC 9110 token), at most 100 long.
var headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]{1,100}$`)

// HeaderName reports whether s may be used as an HTTP header name.
func HeaderName(s string) bool { return headerName.MatchString(s) }

// Printable reports whether s is made only of printable ASCII (space to ~).
func Printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
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
