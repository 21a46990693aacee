package endpoints

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
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
