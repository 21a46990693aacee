package endpoints

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func mustAction(t testing.TB, name string) action {
	t.Helper()
	a, ok := findAction(name)
	if !ok {
		t.Fatalf("no action %s in inbound's catalog", name)
	}
	return a
}

func rawMapping(t testing.TB, s string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("mapping %s: %v", s, err)
	}
	return m
}

func TestParseMapping_Refusals(t *testing.T) {
	tests := []struct {
		name, action, mapping, field, message string
	}{
		{"unknown field", "create_customer", `{"mail": "a"}`, "mapping.mail", "is not a field of this action"},
		{"nested under text", "create_customer", `{"email.x": "a"}`, "mapping.email.x", "is text"},
		{"bracket key", "create_customer", `{"email[x]": "a"}`, "mapping.email[x]", "is not a field name"},
		{"bad path", "create_customer", `{"email": "a..b"}`, "mapping.email", "is not a path"},
		{"append path", "create_customer", `{"email": "a[]"}`, "mapping.email", "is not a path"},
		{"number", "create_customer", `{"email": 3}`, "mapping.email", "must be a path or an object"},
		{"unknown rule key", "create_customer", `{"email": {"path": "a", "trim": true}}`, "mapping.email", "unknown field"},
		{"bad transform", "create_customer", `{"email": {"path": "a", "transform": ["upper"]}}`, "mapping.email", `"upper" is not one of`},
		{"no path no default", "create_customer", `{"email": {"transform": ["trim"]}}`, "mapping.email", "needs a path"},
		{"object default for text", "create_customer", `{"notes": {"path": "a", "default": {"x": 1}}}`, "mapping.notes", "must be text"},
		{"text default for object", "publish_event", `{"data": {"path": "a", "default": "x"}}`, "mapping.data", "must be an object"},
		{"transform on object", "publish_event", `{"data": {"path": "a", "transform": ["trim"]}}`, "mapping.data", "apply to text"},
		{"object and its field", "publish_event", `{"data": "a", "data.x": "b"}`, "mapping.data.x", "conflicts with"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, fields := parseMapping(rawMapping(t, tc.mapping), mustAction(t, tc.action))
			if len(fields) != 1 || fields[0].Field != tc.field || !strings.Contains(fields[0].Message, tc.message) {
				t.Fatalf("got %+v, want %s: …%s…", fields, tc.field, tc.message)
			}
		})
	}
}

func TestMapping_Apply(t *testing.T) {
	post := map[string]any{
		"answers":      map[string]any{"email": "  Ann@Example.COM ", "name": "Ann", "blank": "   ", "nested": map[string]any{"x": "1"}},
		"flat.key":     "dotted json key",
		"phone":        json.Number("15550001"),
		"interests":    []any{"yoga", "pilates"},
		"items":        []any{map[string]any{"sku": "X1"}, map[string]any{"sku": "X2"}},
		"order":        map[string]any{"id": json.Number("42"), "total": json.Number("9.5")},
		"subscribed":   true,
		"nothing_here": nil,
	}
	tests := []struct {
		name, action, mapping string
		want                  map[string]any
		field                 string // a 422 on this field instead
	}{
		{"short and long forms with transforms and defaults", "create_customer",
			`{"email": {"path": "answers[email]", "transform": ["trim", "lowercase"]}, "name": "answers.name",
			  "notes": {"path": "answers.blank", "transform": ["trim"], "default": "no notes"},
			  "external_id": {"path": "", "default": 7}}`,
			map[string]any{"email": "ann@example.com", "name": "Ann", "notes": "no notes", "external_id": "7"}, ""},
		{"numbers and booleans become text, lists are joined", "create_customer",
			`{"phone": "phone", "notes": "interests", "name": "subscribed"}`,
			map[string]any{"phone": "15550001", "notes": "yoga, pilates", "name": "true"}, ""},
		{"list index and dotted json key", "create_customer",
			`{"external_id": "items.1.sku", "notes": "flat.key"}`,
			map[string]any{"external_id": "X2", "notes": "dotted json key"}, ""},
		{"absent, null and blank are left out", "create_customer",
			`{"email": "answers.missing", "name": "nothing_here", "notes": {"path": "answers.blank", "transform": ["trim"]}}`,
			map[string]any{}, ""},
		{"object fields and dotted keys under them", "publish_event",
			`{"type": {"path": "", "default": "order.paid"}, "data.order_id": "order.id", "data.total": "order.total", "data.first": "items.0"}`,
			map[string]any{"type": "order.paid", "data": map[string]any{"order_id": json.Number("42"), "total": json.Number("9.5"), "first": map[string]any{"sku": "X1"}}}, ""},
		{"whole object", "publish_event", `{"type": "answers.name", "data": "order"}`,
			map[string]any{"type": "Ann", "data": post["order"]}, ""},
		{"empty mapping reads same-named fields", "create_customer", `{}`,
			map[string]any{"phone": "15550001"}, ""},
		{"object into text is a 422 on the action field", "create_customer", `{"email": "answers.nested"}`, nil, "email"},
		{"list of objects into text", "create_customer", `{"notes": "items"}`, nil, "notes"},
		{"text into object", "publish_event", `{"data": "answers.name"}`, nil, "data"},
		{"transform on an object under data", "publish_event", `{"data.x": {"path": "order", "transform": ["trim"]}}`, nil, "data.x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := mustAction(t, tc.action)
			m, fields := parseMapping(rawMapping(t, tc.mapping), a)
			if len(fields) > 0 {
				t.Fatalf("mapping refused: %+v", fields)
			}
			got, fields := m.apply(post, a)
			if tc.field != "" {
				if len(fields) != 1 || fields[0].Field != tc.field {
					t.Fatalf("got %v %+v, want a 422 on %s", got, fields, tc.field)
				}
				return
			}
			if len(fields) > 0 || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v %+v, want %#v", got, fields, tc.want)
			}
		})
	}
}

// FuzzMapping checks that no mapping and post make mapping panic, that a
// mapping the API accepts survives its own stored form, and that the input
// it builds names only the action's fields, with text in text fields.
func FuzzMapping(f *testing.F) {
	f.Add(`{"email": {"path": "answers[email]", "transform": ["trim", "lowercase"]}, "name": "answers.name"}`,
		`{"answers": {"email": " A@B.C ", "name": "Ann"}}`, uint8(0))
	f.Add(`{"notes": {"path": "", "default": "x"}, "phone": "p"}`, `{"p": 15550001}`, uint8(0))
	f.Add(`{"data.order.id": "o.id", "type": "t"}`, `{"o": {"id": [1, {"a": null}]}, "t": "x.y"}`, uint8(5))
	f.Add(`{"data": {"path": "", "default": {"a": 1}}}`, `[1, 2]`, uint8(5))
	f.Add(`{}`, `{"email": ["a", ["b"]], "name": {"x": 1}}`, uint8(1))
	f.Add(`{"email": "a.0.b"}`, `{"a": [{"b": "x"}], "a.0": {"b": "y"}}`, uint8(3))
	f.Add(`{"email": "a[b.c]"}`, `{"a": {"b.c": true}}`, uint8(2))
	f.Fuzz(func(t *testing.T, mapping, payload string, which uint8) {
		catalogNames := []string{"create_customer", "update_customer", "upsert_customer", "find_customer", "delete_customer", "publish_event"}
		a, ok := findAction(catalogNames[int(which)%len(catalogNames)])
		if !ok {
			t.Skip("action not in the catalog")
		}
		var raw map[string]json.RawMessage
		if json.Unmarshal([]byte(mapping), &raw) != nil {
			return
		}
		m, fields := parseMapping(raw, a)
		if len(fields) > 0 {
			return
		}
		// The stored (long) form must parse back to the same mapping.
		stored, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("mapping does not encode: %v", err)
		}
		var again map[string]json.RawMessage
		if err := json.Unmarshal(stored, &again); err != nil {
			t.Fatal(err)
		}
		m2, fields := parseMapping(again, a)
		if len(fields) > 0 {
			t.Fatalf("stored form %s refused: %+v", stored, fields)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("stored form changed the mapping: %#v vs %#v", m, m2)
		}
		post, err := parseJSON([]byte(payload))
		if err != nil {
			return
		}
		in, fields := m.apply(post, a)
		if len(fields) > 0 {
			return
		}
		for k, v := range in {
			f, ok := a.field(k)
			if !ok {
				t.Fatalf("input names %q, not a field of the action", k)
			}
			if _, isText := v.(string); !f.object && !isText {
				t.Fatalf("text field %q holds %#v", k, v)
			}
			if _, isObj := v.(map[string]any); f.object && !isObj {
				t.Fatalf("object field %q holds %#v", k, v)
			}
		}
		if _, err := json.Marshal(in); err != nil {
			t.Fatalf("input does not encode: %v", err)
		}
	})
}
