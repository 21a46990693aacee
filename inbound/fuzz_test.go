package inbound

import (
	"encoding/json"
	"testing"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/customers"
)

// FuzzActionInput runs the /v1/actions body decoding (decodeBody) and each
// action's strict input decoding (decodeInput) on arbitrary bodies: they
// never panic, refuse only with an apperr, and a decoded body keeps its
// numbers exact through the re-encoding Run does.
func FuzzActionInput(f *testing.F) {
	f.Add([]byte(`{"name": "Ann", "email": "ann@example.com"}`))
	f.Add([]byte(`{"type": "order.paid", "data": {"id": 12345678901234567890, "amount": 10.50, "e": 1e400}}`))
	f.Add([]byte(`{"id": "cus_01jd9q6m3v6f0t1r2y3x4z5a6b", "email": null, "phone": 5550100}`))
	f.Add([]byte(`{"email": "a@b.c", "vip": true} {}`))
	f.Add([]byte(`[1, 2]`))
	f.Add([]byte(`{"data": {"a": [[[[[[]]]]]]}, "type": "\u0000"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		input, err := decodeBody(body)
		if err != nil {
			if apperr.As(err) == nil {
				t.Fatalf("decodeBody error is not an apperr: %v", err)
			}
			return
		}
		if input == nil {
			t.Fatal("decodeBody returned no input and no error")
		}
		raw, err := json.Marshal(input)
		if err != nil {
			t.Fatalf("decoded input does not encode: %v", err)
		}
		again, err := decodeBody(raw)
		if err != nil {
			t.Fatalf("re-encoded input %s does not decode: %v", raw, err)
		}
		if raw2, _ := json.Marshal(again); string(raw2) != string(raw) {
			t.Fatalf("numbers or values changed: %s then %s", raw, raw2)
		}
		targets := []any{
			&customers.NewCustomer{},
			&updateInput{},
			&struct {
				Email string `json:"email" validate:"required,max=254"`
			}{},
			&struct {
				ID    string `json:"id"`
				Email string `json:"email"`
			}{},
			&struct {
				Type string          `json:"type" validate:"required,max=81"`
				Data json.RawMessage `json:"data" validate:"required"`
			}{},
		}
		for _, v := range targets {
			if err := decodeInput(raw, v); err != nil && apperr.As(err) == nil {
				t.Fatalf("decodeInput(%T) error is not an apperr: %v", v, err)
			}
		}
	})
}
