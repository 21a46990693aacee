package endpoints

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hookline/hookline/app/apperr"
)

// apply builds an action's input from a parsed post. Absent values without
// a default are left out (the action says which fields it requires); values
// that cannot become the field's type are 422s naming the action field.
func (m Mapping) apply(payload any, a action) (map[string]any, []apperr.FieldError) {
	rules := m
	if len(rules) == 0 {
		rules = make(Mapping, len(a.fields))
		for _, f := range a.fields {
			rules[f.name] = Rule{Path: f.name}
		}
	}
	keys := make([]string, 0, len(rules))
	for k := range rules {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := map[string]any{}
	var fields []apperr.FieldError
	for _, key := range keys {
		segs, _, ok := splitName(key)
		if !ok {
			continue // parseMapping refuses such keys; a stored mapping has none
		}
		f, ok := a.field(segs[0])
		if !ok {
			continue
		}
		v, msg := rules[key].value(payload, f, len(segs) > 1)
		if msg != "" {
			fields = append(fields, apperr.FieldError{Field: key, Message: msg})
			continue
		}
		if v != nil {
			setPath(out, segs, v)
		}
	}
	if len(fields) > 0 {
		return nil, fields
	}
	return out, nil
}

// value resolves one rule: the value at its path, made the field's type,
// transformed, or its default. nil means leave the field out.
func (r Rule) value(payload any, f field, nested bool) (any, string) {
	var v any
	if r.Path != "" {
		if segs, _, ok := splitName(r.Path); ok {
			v, _ = resolve(payload, segs)
		}
	}
	if v != nil {
		switch {
		case nested:
			// Under an object field any JSON value is fine; text still takes transforms.
		case f.object:
			if _, ok := v.(map[string]any); !ok {
				return nil, fmt.Sprintf("%s holds %s, not an object", r.Path, describe(v))
			}
		default:
			s, ok := asText(v)
			if !ok {
				return nil, fmt.Sprintf("%s holds %s, not text", r.Path, describe(v))
			}
			v = s
		}
		if len(r.Transform) > 0 {
			s, ok := asText(v)
			if !ok {
				return nil, fmt.Sprintf("%s holds %s: %s applies to text", r.Path, describe(v), strings.Join(r.Transform, " and "))
			}
			v = transform(s, r.Transform)
		}
	}
	if v == nil || v == "" {
		if r.Default == nil {
			// Empty text is left out like an absent field: a blank optional
			// form field must not clear what an update would otherwise keep.
			return nil, ""
		}
		dec := json.NewDecoder(bytes.NewReader(r.Default))
		dec.UseNumber()
		var d any
		if err := dec.Decode(&d); err != nil {
			return nil, "has a default that is not valid JSON"
		}
		if !nested && !f.object {
			s, ok := asText(d)
			if !ok {
				return nil, "has a default that is not text"
			}
			return s, ""
		}
		return d, ""
	}
	return v, ""
}

func transform(s string, ts []string) string {
	for _, t := range ts {
		switch t {
		case TransformTrim:
			s = strings.TrimSpace(s)
		case TransformLowercase:
			s = strings.ToLower(s)
		}
	}
	return s
}

// asText renders a scalar as text: forms send text and JSON senders send
// numbers for phone numbers and ids, and both must map the same. A list of
// scalars (checkboxes) is joined with ", ".
func asText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := asText(e)
			if !ok {
				return "", false
			}
			if _, isList := e.([]any); isList {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ", "), true
	}
	return "", false
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "text"
	case nil:
		return "null"
	}
	return "a value"
}

// resolve walks a parsed post along path segments. A map is looked up by
// the longest run of segments that is one of its keys, so a JSON key that
// itself contains dots ({"answers.email": …}) is found by the same path as
// nested objects; a list is indexed by a decimal segment.
func resolve(v any, segs []string) (any, bool) {
	for len(segs) > 0 {
		switch x := v.(type) {
		case map[string]any:
			found := false
			for n := len(segs); n >= 1; n-- {
				if child, ok := x[strings.Join(segs[:n], ".")]; ok {
					v, segs, found = child, segs[n:], true
					break
				}
			}
			if !found {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(segs[0])
			if err != nil || i < 0 || i >= len(x) || segs[0] != strconv.Itoa(i) {
				return nil, false
			}
			v, segs = x[i], segs[1:]
		default:
			return nil, false
		}
	}
	return v, true
}

// setPath sets out[segs[0]][segs[1]]… = v, making objects on the way. A
// non-object in the way is replaced (parseMapping refuses keys that would
// collide, so this happens only with hand-edited mappings).
func setPath(out map[string]any, segs []string, v any) {
	cur := out
	for _, s := range segs[:len(segs)-1] {
		next, ok := cur[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[s] = next
		}
		cur = next
	}
	cur[segs[len(segs)-1]] = v
}
