package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/apitest"
)

// F12: an account's keys and event types are bounded (quotas the operator
// sets), and the catalog pages instead of answering one unbounded list.
func TestQuotas_KeysAndEventTypes(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, apitest.WithEnv("HOOKLINE_MAX_KEYS", "3"), apitest.WithEnv("HOOKLINE_MAX_EVENT_TYPES", "4"),
		apitest.WithEnv("HOOKLINE_MAX_SAMPLE_BYTES", "300"))
	acct := api.NewAccount("A") // the owner key is the first of 3
	var ids []string
	for i := 0; i < 2; i++ {
		ids = append(ids, api.Do("POST", "/v1/keys", acct.Key, map[string]any{"name": fmt.Sprint("k", i), "permissions": []string{"read:customer"}}).Want(201).Str("id"))
	}
	r := api.Do("POST", "/v1/keys", acct.Key, map[string]any{"name": "one too many", "permissions": []string{"read:customer"}}).Want(409)
	if !strings.Contains(string(r.Body), "HOOKLINE_MAX_KEYS") {
		t.Fatalf("quota message does not name the setting: %s", r.Body)
	}
	// Revoked keys do not count.
	api.Do("DELETE", "/v1/keys/"+ids[0], acct.Key, nil).Want(200)
	api.Do("POST", "/v1/keys", acct.Key, map[string]any{"name": "again", "permissions": []string{"read:customer"}}).Want(201)

	sample := map[string]any{"pad": strings.Repeat("x", 100)}
	for i := 0; i < 2; i++ {
		api.Do("POST", "/v1/event-types", acct.Key, map[string]any{"name": fmt.Sprintf("thing.t%d", i), "description": "d", "sample": sample}).Want(201)
	}
	// A third 100-byte sample would pass 300 bytes in all.
	r = api.Do("POST", "/v1/event-types", acct.Key, map[string]any{"name": "thing.t2", "description": "d", "sample": sample}).Want(409)
	if !strings.Contains(string(r.Body), "HOOKLINE_MAX_SAMPLE_BYTES") {
		t.Fatalf("sample quota message: %s", r.Body)
	}
	for i := 2; i < 4; i++ {
		api.Do("POST", "/v1/event-types", acct.Key, map[string]any{"name": fmt.Sprintf("thing.t%d", i), "description": "d"}).Want(201)
	}
	r = api.Do("POST", "/v1/event-types", acct.Key, map[string]any{"name": "thing.t9", "description": "d"}).Want(409)
	if !strings.Contains(string(r.Body), "HOOKLINE_MAX_EVENT_TYPES") {
		t.Fatalf("type quota message: %s", r.Body)
	}

	// Paging: 3 built-in types then 4 own, two at a time, in order, no repeats.
	var names []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		var page struct {
			Data []struct {
				Name string `json:"name"`
			} `json:"data"`
			Next *string `json:"next_cursor"`
		}
		path := "/v1/event-types?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		api.Do("GET", path, acct.Key, nil).Want(200).JSON(&page)
		for _, d := range page.Data {
			names = append(names, d.Name)
		}
		if page.Next == nil {
			break
		}
		cursor = *page.Next
	}
	want := "customer.created customer.updated customer.deleted thing.t0 thing.t1 thing.t2 thing.t3"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("paged names %q, want %q", got, want)
	}
}
