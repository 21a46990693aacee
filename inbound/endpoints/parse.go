package endpoints

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"

	"github.com/hookline/hookline/app/apperr"
)

// Parsing limits. Bodies are already bounded by Options.MaxBody; these bound
// the shape built from them.
const (
	maxFormFields = 1000 // fields in one form post
	maxSegments   = 16   // segments in one form field name or mapping path
	maxNameLen    = 256  // bytes in one form field name
)

// Content kinds a post can have.
const (
	kindJSON = "json"
	kindForm = "form" // urlencoded or multipart: an HTML form may have sent it
)

var errUnsupported = apperr.New(apperr.CodeUnsupportedMedia,
	"send the body as application/json, application/x-www-form-urlencoded or multipart/form-data")

// parsePayload decodes a post's body by its Content-Type into a JSON-like
// value: maps, lists, strings, json.Number, bools and nil. Form fields become
// nested maps (see buildForm); multipart file parts are ignored.
func parsePayload(contentType string, body []byte) (payload any, kind string, err error) {
	if strings.TrimSpace(contentType) == "" {
		return nil, "", errUnsupported
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, "", errUnsupported
	}
	switch {
	case mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
		v, err := parseJSON(body)
		return v, kindJSON, err
	case mt == "application/x-www-form-urlencoded":
		fields, err := parseURLEncoded(body)
		if err != nil {
			return nil, "", err
		}
		v, err := buildForm(fields)
		return v, kindForm, err
	case mt == "multipart/form-data":
		fields, err := parseMultipart(body, params["boundary"])
		if err != nil {
			return nil, "", err
		}
		v, err := buildForm(fields)
		return v, kindForm, err
	}
	return nil, "", errUnsupported
}

func parseJSON(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // keep numbers exact: they may be ids or phone numbers
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, apperr.BadRequest("malformed JSON: " + strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, apperr.BadRequest("malformed JSON: unexpected data after the value")
	}
	return v, nil
}

// formField is one name=value pair of a form, in the order sent.
type formField struct{ name, value string }

// parseURLEncoded splits an application/x-www-form-urlencoded body, keeping
// the order of fields (url.ParseQuery does not).
func parseURLEncoded(body []byte) ([]formField, error) {
	var out []formField
	rest := string(body)
	for rest != "" {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" {
			continue
		}
		if len(out) == maxFormFields {
			return nil, apperr.TooLarge(fmt.Sprintf("the form has more than %d fields", maxFormFields))
		}
		k, v, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, apperr.BadRequest("malformed form body: a field name is not URL-encoded correctly")
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, apperr.BadRequest(fmt.Sprintf("malformed form body: the value of %s is not URL-encoded correctly", quoteName(name)))
		}
		out = append(out, formField{name: name, value: value})
	}
	return out, nil
}

// parseMultipart reads a multipart/form-data body's fields. File parts
// (those whose Content-Disposition has a filename, even an empty one, as an
// unused file input sends) are skipped: endpoints take fields only.
func parseMultipart(body []byte, boundary string) ([]formField, error) {
	if boundary == "" {
		return nil, apperr.BadRequest("malformed multipart body: the Content-Type has no boundary")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	var out []formField
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, apperr.BadRequest("malformed multipart body: " + err.Error())
		}
		_, params, perr := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		if perr != nil {
			return nil, apperr.BadRequest("malformed multipart body: a part has no valid Content-Disposition")
		}
		if _, file := params["filename"]; file {
			continue
		}
		name := params["name"]
		if name == "" {
			continue
		}
		if len(out) == maxFormFields {
			return nil, apperr.TooLarge(fmt.Sprintf("the form has more than %d fields", maxFormFields))
		}
		value, err := io.ReadAll(part)
		if err != nil {
			return nil, apperr.BadRequest("malformed multipart body: " + err.Error())
		}
		out = append(out, formField{name: name, value: string(value)})
	}
}

// splitName splits a form field name or a mapping path into segments. Dots
// and brackets both separate, so "answers.email" and "answers[email]"
// address the same place, as do "a[b][0]" and "a.b.0". Text
// inside brackets is taken literally (it may hold dots). A trailing "[]"
// (form names only) sets appendLast: the value is added to a list. ok is
// false for an empty segment, an unclosed or misplaced bracket, or too many
// segments.
func splitName(name string) (segs []string, appendLast, ok bool) {
	if name == "" || len(name) > maxNameLen {
		return nil, false, false
	}
	var cur strings.Builder
	afterBracket := false // just closed a bracket: only '.', '[' or the end may follow
	for i := 0; i < len(name); i++ {
		ch := name[i]
		switch {
		case ch == '.':
			if !afterBracket {
				if cur.Len() == 0 {
					return nil, false, false
				}
				segs = append(segs, cur.String())
				cur.Reset()
			}
			afterBracket = false
			if i == len(name)-1 {
				return nil, false, false // a trailing dot
			}
		case ch == '[':
			if !afterBracket {
				if cur.Len() == 0 {
					return nil, false, false // "[x]" with nothing before, or "a.[x]"
				}
				segs = append(segs, cur.String())
				cur.Reset()
			}
			end := strings.IndexByte(name[i+1:], ']')
			if end < 0 {
				return nil, false, false
			}
			inner := name[i+1 : i+1+end]
			i += end + 1
			if inner == "" {
				if i != len(name)-1 {
					return nil, false, false // "[]" only at the end
				}
				appendLast = true
			} else {
				segs = append(segs, inner)
			}
			afterBracket = true
		case ch == ']':
			return nil, false, false
		default:
			if afterBracket {
				return nil, false, false // "a[b]c"
			}
			cur.WriteByte(ch)
		}
	}
	if !afterBracket {
		segs = append(segs, cur.String())
	}
	if len(segs) == 0 || len(segs) > maxSegments {
		return nil, false, false
	}
	return segs, appendLast, true
}

// buildForm nests form fields the way JSON nests objects: "answers.email"
// and "answers[email]" both set {"answers": {"email": …}}. A name sent more
// than once, or ending in "[]", gives a list of its values. Digits are keys
// like any other ("items[0][name]" → {"items": {"0": {"name": …}}}), which
// paths such as items.0.name address just as they index a JSON list.
func buildForm(fields []formField) (map[string]any, error) {
	root := map[string]any{}
	for _, f := range fields {
		segs, appendLast, ok := splitName(f.name)
		if !ok {
			return nil, apperr.BadRequest(fmt.Sprintf("malformed form field name %s", quoteName(f.name)))
		}
		cur := root
		for _, seg := range segs[:len(segs)-1] {
			switch child := cur[seg].(type) {
			case nil:
				m := map[string]any{}
				cur[seg] = m
				cur = m
			case map[string]any:
				cur = child
			default:
				return nil, conflict(f.name)
			}
		}
		last := segs[len(segs)-1]
		switch old := cur[last].(type) {
		case nil:
			if appendLast {
				cur[last] = []any{f.value}
			} else {
				cur[last] = f.value
			}
		case string:
			cur[last] = []any{old, f.value}
		case []any:
			cur[last] = append(old, f.value)
		default:
			return nil, conflict(f.name)
		}
	}
	return root, nil
}

func conflict(name string) error {
	return apperr.BadRequest(fmt.Sprintf("form field %s conflicts with another field: a name cannot hold both a value and nested fields", quoteName(name)))
}

// quoteName quotes a sender's field name for a message, shortened.
func quoteName(name string) string {
	if len(name) > 64 {
		name = name[:64] + "…"
	}
	return fmt.Sprintf("%q", name)
}
