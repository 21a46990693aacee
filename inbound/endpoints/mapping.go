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

// Transforms a rule may apply to text, in the order listed in the rule.
const (
	TransformTrim      = "trim"
	TransformLowercase = "lowercase"
)

// Mapping limits.
const (
	maxRules      = 50
	maxTransforms = 5
	maxDefault    = 1024 // bytes of a default's JSON
)

// Rule says where one action field comes from. Its JSON form is the API's
// long form, and the stored form.
type Rule struct {
	// Path addresses a value in the post: dotted ("answers.email") or
	// bracketed ("answers[email]"); digits index lists ("items.0.sku").
	// Empty means the field always takes Default.
	Path string `json:"path"`
	// Transform lists text transforms (trim, lowercase), applied in order.
	Transform []string `json:"transform"`
	// Default is the JSON value used when the path is absent, null or
	// empty text after the transforms. Nil means none: the field is left out.
	Default json.RawMessage `json:"default,omitempty"`
}

// Mapping maps action fields to rules. A key is an action field name, or a
// dotted path under an object field (publish_event's "data.order_id").
// An empty Mapping reads each of the action's fields from the top-level
// field of the same name.
type Mapping map[string]Rule

// ruleInput is the long form a client may send for a rule.
type ruleInput struct {
	Path      *string         `json:"path"`
	Transform []string        `json:"transform"`
	Default   json.RawMessage `json:"default"`
}

// parseMapping checks a client's mapping for action a. Each value is either
// a path string (the short form) or {"path", "transform", "default"}.
// Problems are reported per key as "mapping.<key>".
func parseMapping(raw map[string]json.RawMessage, a action) (Mapping, []apperr.FieldError) {
	if len(raw) > maxRules {
		return nil, []apperr.FieldError{{Field: "mapping", Message: fmt.Sprintf("must have at most %d fields", maxRules)}}
	}
	var fields []apperr.FieldError
	bad := func(key, msg string) {
		fields = append(fields, apperr.FieldError{Field: "mapping." + key, Message: msg})
	}
	m := make(Mapping, len(raw))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, key := range keys {
		target, f, msg := checkTarget(key, a)
		if msg != "" {
			bad(key, msg)
			continue
		}
		// Sorted keys put "data" right before "data.x": one cannot be both.
		if i > 0 && strings.HasPrefix(key, keys[i-1]+".") {
			bad(key, fmt.Sprintf("conflicts with %q: map the object or its fields, not both", keys[i-1]))
			continue
		}
		r, msg := parseRule(raw[key], f, len(target) > 1)
		if msg != "" {
			bad(key, msg)
			continue
		}
		m[key] = r
	}
	if len(fields) > 0 {
		return nil, fields
	}
	return m, nil
}

// checkTarget splits a mapping key and checks it names a field of a.
func checkTarget(key string, a action) ([]string, field, string) {
	segs, appendLast, ok := splitName(key)
	if !ok || appendLast || strings.ContainsAny(key, "[]") {
		return nil, field{}, "is not a field name; use a name such as email, or data.order_id under an object field"
	}
	f, ok := a.field(segs[0])
	if !ok {
		names := make([]string, len(a.fields))
		for i, af := range a.fields {
			names[i] = af.name
		}
		return nil, field{}, fmt.Sprintf("is not a field of this action; its fields are %s", strings.Join(names, ", "))
	}
	if len(segs) > 1 && !f.object {
		return nil, field{}, fmt.Sprintf("%s is text: it has no fields to map", segs[0])
	}
	return segs, f, ""
}

// parseRule reads one rule in the short or long form. nested is true for a
// key under an object field, which may take any JSON value.
func parseRule(raw json.RawMessage, f field, nested bool) (Rule, string) {
	raw = bytes.TrimSpace(raw)
	var in ruleInput
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var p string
		if err := json.Unmarshal(raw, &p); err != nil {
			return Rule{}, "must be a path or an object with path, transform and default"
		}
		in.Path = &p
	case len(raw) > 0 && raw[0] == '{':
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return Rule{}, "must be a path or an object with path, transform and default: " + strings.TrimPrefix(err.Error(), "json: ")
		}
	default:
		return Rule{}, "must be a path or an object with path, transform and default"
	}
	var r Rule
	if in.Path != nil {
		r.Path = strings.TrimSpace(*in.Path)
	}
	if r.Path != "" {
		if segs, appendLast, ok := splitName(r.Path); !ok || appendLast || len(segs) > maxSegments {
			return Rule{}, fmt.Sprintf("path %q is not a path; use dots or brackets, such as answers.email or answers[email]", r.Path)
		}
	}
	if len(in.Transform) > maxTransforms {
		return Rule{}, fmt.Sprintf("transform must have at most %d items", maxTransforms)
	}
	for _, t := range in.Transform {
		if t != TransformTrim && t != TransformLowercase {
			return Rule{}, fmt.Sprintf("transform %q is not one of: trim, lowercase", t)
		}
	}
	if len(in.Transform) > 0 && (f.object && !nested) {
		return Rule{}, "transforms apply to text; this field is an object"
	}
	r.Transform = in.Transform
	if r.Transform == nil {
		r.Transform = []string{}
	}
	if d := bytes.TrimSpace(in.Default); len(d) > 0 && !bytes.Equal(d, []byte("null")) {
		if len(d) > maxDefault {
			return Rule{}, fmt.Sprintf("default must be at most %d bytes of JSON", maxDefault)
		}
		var v any
		if err := json.Unmarshal(d, &v); err != nil {
			return Rule{}, "default is not valid JSON"
		}
		_, isMap := v.(map[string]any)
		_, isList := v.([]any)
		switch {
		case nested:
		case f.object && !isMap:
			return Rule{}, "default must be an object for this field"
		case !f.object && (isMap || isList):
			return Rule{}, "default must be text, a number or true/false for this field"
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, d); err != nil {
			return Rule{}, "default is not valid JSON"
		}
		r.Default = buf.Bytes()
	}
	if r.Path == "" && r.Default == nil {
		return Rule{}, "needs a path, or a default to always use"
	}
	return r, ""
}

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
