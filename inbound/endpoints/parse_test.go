package endpoints

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"reflect"
	"strings"
	"testing"

	"github.com/hookline/hookline/app/apperr"
)

func TestSplitName(t *testing.T) {
	tests := []struct {
		name   string
		want   []string
		append bool
		ok     bool
	}{
		{"email", []string{"email"}, false, true},
		{"answers.email", []string{"answers", "email"}, false, true},
		{"answers[email]", []string{"answers", "email"}, false, true},
		{"a[b][c]", []string{"a", "b", "c"}, false, true},
		{"a[b].c", []string{"a", "b", "c"}, false, true},
		{"a.b[c]", []string{"a", "b", "c"}, false, true},
		{"items[0][sku]", []string{"items", "0", "sku"}, false, true},
		{"a[b.c]", []string{"a", "b.c"}, false, true},
		{"what is your name?", []string{"what is your name?"}, false, true},
		{"tags[]", []string{"tags"}, true, true},
		{"a[b][]", []string{"a", "b"}, true, true},
		{"", nil, false, false},
		{".a", nil, false, false},
		{"a.", nil, false, false},
		{"a..b", nil, false, false},
		{"[a]", nil, false, false},
		{"a[b", nil, false, false},
		{"a]b", nil, false, false},
		{"a[b]c", nil, false, false},
		{"a[]b", nil, false, false},
		{"a[][b]", nil, false, false},
		{"a.[b]", nil, false, false},
		{strings.Repeat("a.", 16) + "a", nil, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, app, ok := splitName(tc.name)
			if ok != tc.ok || app != tc.append || ok && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q append=%v ok=%v, want %q append=%v ok=%v", got, app, ok, tc.want, tc.append, tc.ok)
			}
		})
	}
}

func TestParsePayload_FormsNestLikeJSON(t *testing.T) {
	want := map[string]any{
		"answers": map[string]any{"email": "ann@example.com", "name": "Ann"},
		"tags":    []any{"a", "b"},
		"items":   map[string]any{"0": map[string]any{"sku": "X1"}},
	}
	urlencoded := "answers.email=ann%40example.com&answers%5Bname%5D=Ann&tags%5B%5D=a&tags%5B%5D=b&items[0][sku]=X1"
	got, kind, err := parsePayload("application/x-www-form-urlencoded; charset=utf-8", []byte(urlencoded))
	if err != nil || kind != kindForm || !reflect.DeepEqual(got, want) {
		t.Fatalf("urlencoded: got %v %s %v, want %v", got, kind, err, want)
	}

	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("answers.email", "ann@example.com")
	_ = w.WriteField("answers[name]", "Ann")
	_ = w.WriteField("tags", "a")
	_ = w.WriteField("tags", "b")
	fw, _ := w.CreateFormFile("upload", "cv.pdf")
	_, _ = fw.Write([]byte("%PDF binary"))
	_, _ = w.CreateFormFile("empty_file_input", "") // what a browser sends for an unused file input
	_ = w.WriteField("items[0].sku", "X1")
	_ = w.Close()
	got, kind, err = parsePayload(w.FormDataContentType(), buf.Bytes())
	if err != nil || kind != kindForm || !reflect.DeepEqual(got, want) {
		t.Fatalf("multipart: got %v %s %v, want %v (file parts ignored)", got, kind, err, want)
	}

	got, kind, err = parsePayload("application/json", []byte(`{"answers":{"email":"ann@example.com","name":"Ann"},"n":15550001}`))
	if err != nil || kind != kindJSON {
		t.Fatalf("json: %v %s %v", got, kind, err)
	}
	if n := got.(map[string]any)["n"]; n != json.Number("15550001") {
		t.Fatalf("json numbers must stay exact, got %#v", n)
	}
}

func TestParsePayload_Refusals(t *testing.T) {
	tests := []struct {
		name, ctype, body, code string
	}{
		{"no content type", "", `{}`, apperr.CodeUnsupportedMedia},
		{"text/plain", "text/plain", `a=b`, apperr.CodeUnsupportedMedia},
		{"bad media type", "application/", `{}`, apperr.CodeUnsupportedMedia},
		{"malformed json", "application/json", `{"a":`, apperr.CodeBadRequest},
		{"json with trailing data", "application/json", `{} {}`, apperr.CodeBadRequest},
		{"bad escape", "application/x-www-form-urlencoded", `a=%zz`, apperr.CodeBadRequest},
		{"malformed name", "application/x-www-form-urlencoded", `a[b=1`, apperr.CodeBadRequest},
		{"value then group", "application/x-www-form-urlencoded", `a=1&a.b=2`, apperr.CodeBadRequest},
		{"group then value", "application/x-www-form-urlencoded", `a.b=2&a=1`, apperr.CodeBadRequest},
		{"too many fields", "application/x-www-form-urlencoded", strings.Repeat("a=1&", maxFormFields+1), apperr.CodePayloadTooLarge},
		{"multipart without boundary", "multipart/form-data", `x`, apperr.CodeBadRequest},
		{"multipart cut short", "multipart/form-data; boundary=zz", "--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end", apperr.CodeBadRequest},
		{"multipart part without disposition", "multipart/form-data; boundary=zz", "--zz\r\nX: y\r\n\r\nv\r\n--zz--", apperr.CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parsePayload(tc.ctype, []byte(tc.body))
			if !apperr.IsCode(err, tc.code) {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
	// +json types and an empty JSON body are accepted.
	if v, _, err := parsePayload("application/vnd.api+json", nil); err != nil || !reflect.DeepEqual(v, map[string]any{}) {
		t.Fatalf("empty +json body: %v %v", v, err)
	}
}

// FuzzParseForm checks that no form body, urlencoded or multipart, makes
// the parser panic, and that what it builds is nested maps of text.
func FuzzParseForm(f *testing.F) {
	f.Add("answers.email=ann%40example.com&answers%5Bname%5D=Ann", false)
	f.Add("tags[]=a&tags[]=b&tags=c&x", false)
	f.Add("a=1&a.b=2", false)
	f.Add("a[b][c][d]=1&a[b][c][e]=2&&=&%zz", false)
	f.Add("a[=1&]=2&[]=3&a..b=4", false)
	f.Add("--b0undary\r\nContent-Disposition: form-data; name=\"a[b]\"\r\n\r\nv\r\n--b0undary--\r\n", true)
	f.Add("--b0undary\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nbin\r\n--b0undary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b0undary--\r\n", true)
	f.Add("--b0undary\r\nContent-Disposition: form-data\r\n\r\n\r\n--b0undary", true)
	f.Fuzz(func(t *testing.T, body string, isMultipart bool) {
		var fields []formField
		var err error
		if isMultipart {
			fields, err = parseMultipart([]byte(body), "b0undary")
		} else {
			fields, err = parseURLEncoded([]byte(body))
		}
		if err != nil {
			if apperr.As(err) == nil {
				t.Fatalf("error is not an apperr: %v", err)
			}
			return
		}
		form, err := buildForm(fields)
		if err != nil {
			if apperr.As(err) == nil {
				t.Fatalf("error is not an apperr: %v", err)
			}
			return
		}
		if err := checkLeaves(form); err != "" {
			t.Fatal(err)
		}
		if _, err := json.Marshal(form); err != nil {
			t.Fatalf("form does not encode: %v", err)
		}
	})
}

func checkLeaves(v any) string {
	switch x := v.(type) {
	case string:
		return ""
	case []any:
		for _, e := range x {
			if _, ok := e.(string); !ok {
				return "a list holds a non-string"
			}
		}
		return ""
	case map[string]any:
		for _, e := range x {
			if msg := checkLeaves(e); msg != "" {
				return msg
			}
		}
		return ""
	}
	return "unexpected value in a form"
}
