package ifttt_test

import (
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/apitest"
)

// TestEndpointChecklist runs IFTTT's endpoint-test checklist against a
// live server, in the order IFTTT's tester does.
func TestEndpointChecklist(t *testing.T) {
	t.Parallel()
	api, _ := newAPI(t, "")
	c := newClient(t, api)

	// status needs the service key.
	if m := c.do("GET", "/ifttt/v1/status", nil).Want(401).ErrorMessage(); !strings.Contains(m, "IFTTT-Service-Key") {
		t.Fatalf("status without key: %q", m)
	}
	c.do("GET", "/ifttt/v1/status", nil, "IFTTT-Service-Key", "wrong-key").Want(401).ErrorMessage()
	r := c.ifttt("GET", "/status", "", nil).Want(200)
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}

	// test/setup: key required, idempotent, samples for everything.
	c.do("POST", "/ifttt/v1/test/setup", nil).Want(401).ErrorMessage()
	c.ifttt("POST", "/test/setup", "", nil).Want(200)
	setup := c.ifttt("POST", "/test/setup", "", nil).Want(200).Map()["data"].(map[string]any)
	token, _ := setup["accessToken"].(string)
	samples, _ := setup["samples"].(map[string]any)
	for _, k := range []string{"triggers", "triggerFieldValidations", "actions", "actionRecordSkipping", "queries"} {
		if samples[k] == nil {
			t.Fatalf("samples lack %s: %v", k, samples)
		}
	}
	if token == "" {
		t.Fatalf("no access token: %v", setup)
	}

	// user/info.
	info := c.ifttt("GET", "/user/info", token, nil).Want(200).Data().(map[string]any)
	if info["id"] == "" || info["name"] == "" {
		t.Fatalf("user/info %v", info)
	}
	c.ifttt("GET", "/user/info", "", nil).Want(401).ErrorMessage()
	c.ifttt("GET", "/user/info", "not-a-token", nil).Want(401).ErrorMessage()

	t.Run("triggers", func(t *testing.T) {
		c := c
		c.t = t
		for _, slug := range []string{"new_customer", "updated_customer"} {
			all := c.ifttt("POST", "/triggers/"+slug, token, map[string]any{"trigger_identity": "tid-" + slug, "triggerFields": map[string]any{}, "user": map[string]any{"timezone": "UTC"}, "ifttt_source": map[string]any{"id": "1"}}).Want(200).Items()
			if len(all) < 3 {
				t.Fatalf("%s: %d items, want at least 3", slug, len(all))
			}
			seen := map[string]bool{}
			for i, it := range all {
				meta := it["meta"].(map[string]any)
				id := meta["id"].(string)
				if seen[id] || id == "" {
					t.Fatalf("%s: meta id %q not unique", slug, id)
				}
				seen[id] = true
				if i > 0 && meta["timestamp"].(float64) > all[i-1]["meta"].(map[string]any)["timestamp"].(float64) {
					t.Fatalf("%s: items not newest first", slug)
				}
				for _, f := range []string{"id", "name", "email", "phone", "created_at"} {
					if _, ok := it[f]; !ok {
						t.Fatalf("%s: item lacks ingredient %s: %v", slug, f, it)
					}
				}
			}
			if n := len(c.ifttt("POST", "/triggers/"+slug, token, map[string]any{"triggerFields": map[string]any{}, "limit": 2}).Want(200).Items()); n != 2 {
				t.Fatalf("%s limit 2: %d items", slug, n)
			}
			if n := len(c.ifttt("POST", "/triggers/"+slug, token, map[string]any{"triggerFields": map[string]any{}, "limit": 0}).Want(200).Items()); n != 0 {
				t.Fatalf("%s limit 0: %d items", slug, n)
			}
			c.ifttt("POST", "/triggers/"+slug, "bad-token", map[string]any{}).Want(401).ErrorMessage()
		}
		items := c.ifttt("POST", "/triggers/new_event", token, map[string]any{"triggerFields": map[string]any{"event_type": "customer.created"}, "limit": 1}).Want(200).Items()
		if len(items) != 1 || items[0]["event_type"] != "customer.created" || !strings.HasPrefix(items[0]["event_id"].(string), "evt_") ||
			!strings.Contains(items[0]["data_json"].(string), "@example.com") {
			t.Fatalf("new_event items %v", items)
		}
		c.ifttt("POST", "/triggers/new_event", token, map[string]any{"triggerFields": map[string]any{}}).Want(400).ErrorMessage()
		c.ifttt("POST", "/triggers/new_event", token, map[string]any{}).Want(400).ErrorMessage()
		c.ifttt("POST", "/triggers/new_customer", token, `{"triggerFields":`).Want(400).ErrorMessage()
		c.ifttt("POST", "/triggers/no_such_trigger", token, map[string]any{}).Want(404).ErrorMessage()

		// Dynamic options and validation, on both URLs.
		opts := c.ifttt("POST", "/triggers/new_event/fields/event_type/options", token, map[string]any{}).Want(200).Items()
		found := false
		for _, o := range opts {
			found = found || o["value"] == "customer.created"
		}
		if !found {
			t.Fatalf("options %v lack customer.created", opts)
		}
		v := c.ifttt("POST", "/triggers/new_event/fields/event_type/validate", token, map[string]any{"value": "customer.updated"}).Want(200).Data().(map[string]any)
		if v["valid"] != true {
			t.Fatalf("valid value: %v", v)
		}
		v = c.ifttt("POST", "/triggers/new_event/fields/event_type/validate", token, map[string]any{"value": "nothing.here"}).Want(200).Data().(map[string]any)
		if v["valid"] != false || v["message"] == "" {
			t.Fatalf("invalid value: %v", v)
		}
		v = c.ifttt("POST", "/triggers/new_event/validate", token, map[string]any{"triggerFields": map[string]any{"event_type": "nothing.here"}}).Want(200).Data().(map[string]any)
		if v["valid"] != false {
			t.Fatalf("trigger validate: %v", v)
		}
		// Trigger-level validation as IFTTT's OpenAPI definition has it.
		all := c.ifttt("POST", "/triggers/new_event/fields/validate", token, map[string]any{"values": map[string]any{"event_type": "nothing.here"}}).Want(200).Data().(map[string]any)
		if f, _ := all["event_type"].(map[string]any); len(all) != 1 || f["valid"] != false || f["message"] == "" {
			t.Fatalf("fields validate, invalid: %v", all)
		}
		all = c.ifttt("POST", "/triggers/new_event/fields/validate", token, map[string]any{"values": map[string]any{"event_type": "customer.created"}}).Want(200).Data().(map[string]any)
		if f, _ := all["event_type"].(map[string]any); f["valid"] != true {
			t.Fatalf("fields validate, valid: %v", all)
		}

		// Trigger identities are forgotten with the service key.
		c.do("DELETE", "/ifttt/v1/triggers/new_customer/trigger_identity/tid-new_customer", nil).Want(401).ErrorMessage()
		c.ifttt("DELETE", "/triggers/new_customer/trigger_identity/tid-new_customer", "", nil).Want(200)
	})

	t.Run("actions", func(t *testing.T) {
		c := c
		c.t = t
		acts := samples["actions"].(map[string]any)
		create := acts["create_customer"]
		first := c.ifttt("POST", "/actions/create_customer", token, map[string]any{"actionFields": create, "user": map[string]any{}, "ifttt_source": map[string]any{}, "extra": 1}).Want(200).Items()
		again := c.ifttt("POST", "/actions/create_customer", token, map[string]any{"actionFields": create}).Want(200).Items()
		if len(first) != 1 || first[0]["id"] == "" || again[0]["id"] != first[0]["id"] {
			t.Fatalf("create twice: %v then %v", first, again)
		}
		c.ifttt("POST", "/actions/create_customer", token, map[string]any{"actionFields": map[string]any{"name": "No Email"}}).Want(400).ErrorMessage()
		c.ifttt("POST", "/actions/create_customer", token, map[string]any{}).Want(400).ErrorMessage()
		c.ifttt("POST", "/actions/create_customer", token, `{"actionFields":{`).Want(400).ErrorMessage()
		c.ifttt("POST", "/actions/create_customer", token, map[string]any{"actionFields": map[string]any{"name": "Bad", "email": "not-an-email"}}).Want(400).ErrorMessage()
		c.ifttt("POST", "/actions/create_customer", "bad", map[string]any{"actionFields": create}).Want(401).ErrorMessage()

		up := c.ifttt("POST", "/actions/update_customer", token, map[string]any{"actionFields": acts["update_customer"], "unknown": true}).Want(200).Items()
		if len(up) != 1 || !strings.HasPrefix(up[0]["id"].(string), "cus_") {
			t.Fatalf("update: %v", up)
		}
		skip := c.ifttt("POST", "/actions/update_customer", token, map[string]any{"actionFields": samples["actionRecordSkipping"].(map[string]any)["update_customer"]}).Want(400)
		if !strings.Contains(string(skip.Body), `"status":"SKIP"`) {
			t.Fatalf("skip body %s", skip.Body)
		}
		skip.ErrorMessage()
	})

	t.Run("queries", func(t *testing.T) {
		c := c
		c.t = t
		page := c.ifttt("POST", "/queries/list_customers", token, map[string]any{"queryFields": map[string]any{}, "limit": 2}).Want(200).Map()
		items, _ := page["data"].([]any)
		cursor, _ := page["cursor"].(string)
		if len(items) != 2 || cursor == "" {
			t.Fatalf("first page %v", page)
		}
		next := c.ifttt("POST", "/queries/list_customers", token, map[string]any{"limit": 2, "cursor": cursor}).Want(200).Map()
		more, _ := next["data"].([]any)
		if len(more) == 0 || more[0].(map[string]any)["id"] == items[0].(map[string]any)["id"] {
			t.Fatalf("second page %v", next)
		}
		if n := len(c.ifttt("POST", "/queries/list_customers", token, map[string]any{"limit": 0}).Want(200).Items()); n != 0 {
			t.Fatalf("limit 0: %d", n)
		}
	})

	t.Run("gzip", func(t *testing.T) {
		c := c
		c.t = t
		r := c.ifttt("POST", "/triggers/new_customer", token, map[string]any{"triggerFields": map[string]any{}}, "Accept-Encoding", "gzip")
		if r.Status != 200 || r.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("gzip asked: %d %v", r.Status, r.Header)
		}
	})
}

// TestDisabledWithoutServiceKey: without HOOKLINE_IFTTT_SERVICE_KEY every
// IFTTT route is a 404.
func TestDisabledWithoutServiceKey(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	c := newClient(t, api)
	for _, path := range []string{"/ifttt/v1/status", "/oauth/authorize?client_id=x"} {
		if r := c.do("GET", path, nil, "IFTTT-Service-Key", "anything"); r.Status != 404 {
			t.Fatalf("%s: %d, want 404", path, r.Status)
		}
	}
	c.do("POST", "/ifttt/v1/test/setup", nil, "IFTTT-Service-Key", "").Want(404)
}
