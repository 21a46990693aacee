package validate_test

import (
	"testing"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/validate"
)

func TestStructPhoneAndHelpers(t *testing.T) {
	type in struct {
		Phone string `json:"phone" validate:"omitempty,phone"`
	}
	if err := validate.Struct(&in{Phone: "+1 (555) 010-0000"}); err != nil {
		t.Fatalf("valid phone: %v", err)
	}
	err := validate.Struct(&in{Phone: "call me"})
	if e := apperr.As(err); e == nil || len(e.Fields) != 1 || e.Fields[0].Field != "phone" {
		t.Fatalf("invalid phone: %v, want one field error on phone", err)
	}
	if !validate.HeaderName("X-Custom_1") || validate.HeaderName("Bad Header") || validate.HeaderName("") {
		t.Fatal("HeaderName accepts or refuses the wrong names")
	}
	if !validate.Printable("order-42 ok") || validate.Printable("a\nb") || validate.Printable("é") {
		t.Fatal("Printable accepts or refuses the wrong strings")
	}
}
