package securitytest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
)

const (
	sub    = perm.SubscribeWebhook
	manage = perm.ManageWebhook
	read   = perm.ReadCustomer
)

// route is one row of the permission table.
type route struct {
	method, path string // {id} is replaced by what setup returns
	// needs lists the permission sets that may call the route: holding every
	// permission of any one set is enough. Nil: any valid key.
	needs [][]string
	// setup makes a fresh resource of the owner's for {id}; nil for none.
	setup func(t *testing.T, w *world) string
	// body builds the request body (nil for none).
	body func(t *testing.T, w *world) any
	// refusedAs is the status a caller lacking a needed permission gets:
	// 403 naming the permission unless DESIGN.md makes "not readable" look
	// absent (404). Empty means 403.
	refusedAs []int
}

func id(f func(*world, *testing.T) string) func(*testing.T, *world) string {
	return func(t *testing.T, w *world) string { return f(w, t) }
}

func fixed(v any) func(*testing.T, *world) any { return func(*testing.T, *world) any { return v } }

var (
	either      = [][]string{{sub}, {manage}}             // one's own webhooks, or all of them
	eitherRead  = [][]string{{sub, read}, {manage, read}} // …and the read permission of customer.* types
	newCustomer = func(*testing.T, *world) any {
		return map[string]any{"name": "New", "email": fmt.Sprintf("new%d@example.com", next())}
	}
)

// routes is the permission table of every /v1 route (server/routes.go and
// each package's routes.go; docs/openapi.yaml). The resources are the
// owner's own, so "not yours" never applies: a refusal here is about the
// permission alone.
var routes = []route{
	{method: "GET", path: "/v1/me"},

	{method: "POST", path: "/v1/keys", needs: [][]string{{perm.ManageKeys}},
		body: func(*testing.T, *world) any {
			return map[string]any{"name": fmt.Sprintf("k%d", next()), "permissions": []string{perm.ManageKeys}}
		}},
	{method: "GET", path: "/v1/keys", needs: [][]string{{perm.ManageKeys}}},
	{method: "GET", path: "/v1/users", needs: [][]string{{perm.ManageAccount}}},
	{method: "POST", path: "/v1/users", needs: [][]string{{perm.ManageAccount}},
		body: func(*testing.T, *world) any {
			// A user is granted only what the caller holds (here, manage:account).
			return map[string]any{"name": "U", "email": fmt.Sprintf("u%d@example.com", next()), "password": "password123",
				"permissions": []string{perm.ManageAccount}}
		}},
	{method: "PATCH", path: "/v1/users/{id}", needs: [][]string{{perm.ManageAccount}}, setup: newUser,
		body: fixed(map[string]any{"permissions": []string{perm.ManageAccount}})},
	// One's own password: any credential of the user, with the current password.
	{method: "POST", path: "/v1/me/password",
		body: fixed(map[string]any{"current_password": "password123", "new_password": "password123"})},
	// One's own IFTTT connections (all of the account's with manage:account);
	// another's looks absent.
	{method: "GET", path: "/v1/oauth/connections"},
	{method: "DELETE", path: "/v1/oauth/connections/{id}", setup: func(*testing.T, *world) string { return "oac_01jd9q6m3v6f0t1r2y3x4z5a6b" }},
	{method: "DELETE", path: "/v1/keys/{id}", needs: [][]string{{perm.ManageKeys}},
		setup: func(t *testing.T, w *world) string { k, _ := w.apiKey(t); return k }},

	{method: "GET", path: "/v1/event-types"},
	{method: "POST", path: "/v1/event-types", needs: [][]string{{manage}},
		body: func(*testing.T, *world) any {
			return map[string]any{"name": fmt.Sprintf("thing.made_%d", next()), "description": "A thing was made."}
		}},

	{method: "GET", path: "/v1/events"},
	{method: "POST", path: "/v1/events", needs: [][]string{{perm.PublishEvent}},
		body: fixed(map[string]any{"type": "order.paid", "data": map[string]any{"order_id": "o2"}})},
	// An event whose type the caller may not read looks absent.
	{method: "GET", path: "/v1/events/{id}", needs: [][]string{{read}}, refusedAs: []int{404},
		setup: func(t *testing.T, w *world) string { return w.event(t, "customer.created") }},
	{method: "GET", path: "/v1/events/{id}", needs: [][]string{{sub}}, refusedAs: []int{404},
		setup: func(t *testing.T, w *world) string { return w.event(t, "order.paid") }},

	{method: "POST", path: "/v1/customers", needs: [][]string{{perm.CreateCustomer}}, body: newCustomer},
	{method: "GET", path: "/v1/customers", needs: [][]string{{read}}},
	{method: "GET", path: "/v1/customers/{id}", needs: [][]string{{read}}, setup: id((*world).customer)},
	{method: "PATCH", path: "/v1/customers/{id}", needs: [][]string{{perm.UpdateCustomer}}, setup: id((*world).customer),
		body: fixed(map[string]any{"notes": "changed"})},
	{method: "DELETE", path: "/v1/customers/{id}", needs: [][]string{{perm.DeleteCustomer}}, setup: id((*world).customer)},

	{method: "POST", path: "/v1/webhooks", needs: eitherRead,
		body: func(_ *testing.T, w *world) any {
			return map[string]any{"name": "n", "url": w.recv.URL + "/new", "events": []string{"customer.created"}}
		}},
	{method: "GET", path: "/v1/webhooks", needs: either},
	{method: "GET", path: "/v1/webhooks/{id}", needs: either, setup: id((*world).webhook)},
	{method: "PATCH", path: "/v1/webhooks/{id}", needs: either, setup: id((*world).webhook),
		body: fixed(map[string]any{"name": "renamed"})},
	{method: "PATCH", path: "/v1/webhooks/{id}", needs: eitherRead, setup: id((*world).webhook),
		body: fixed(map[string]any{"events": []string{"customer.created", "customer.updated"}})},
	// F2: re-pointing, turning on or test-sending a webhook (and redelivering,
	// below) needs the read permission of what it subscribes to, or it
	// becomes a way to siphon data.
	{method: "PATCH", path: "/v1/webhooks/{id}", needs: eitherRead, setup: id((*world).webhook),
		body: func(_ *testing.T, w *world) any { return map[string]any{"url": w.recv.URL + "/siphon"} }},
	{method: "PATCH", path: "/v1/webhooks/{id}", needs: eitherRead, setup: id((*world).webhook),
		body: fixed(map[string]any{"active": true})},
	{method: "DELETE", path: "/v1/webhooks/{id}", needs: either, setup: id((*world).webhook)},
	{method: "POST", path: "/v1/webhooks/{id}/rotate-secret", needs: either, setup: id((*world).webhook)},
	{method: "POST", path: "/v1/webhooks/{id}/test", needs: eitherRead, setup: id((*world).webhook)},
	{method: "GET", path: "/v1/webhooks/{id}/deliveries", needs: either, setup: id((*world).webhook)},
	// Bulk redelivery resends the webhook's events: like one redelivery, it
	// needs the read permission of what the webhook subscribes to (F2).
	{method: "POST", path: "/v1/webhooks/{id}/redeliver-failed", needs: eitherRead, setup: id((*world).webhook),
		body: fixed(map[string]any{"since": "2020-01-01T00:00:00Z", "dry_run": true})},
	// The deliveries an event caused carry nothing of its data, but an event
	// whose type the caller may not read looks absent.
	{method: "GET", path: "/v1/events/{id}/deliveries", needs: eitherRead, setup: func(t *testing.T, w *world) string { return w.event(t, "customer.created") },
		refusedAs: []int{403, 404}},
	// F3: a delivery's payload is the event's data.
	{method: "GET", path: "/v1/deliveries/{id}", needs: eitherRead, setup: id((*world).delivery),
		refusedAs: []int{403, 404}},
	{method: "POST", path: "/v1/deliveries/{id}/redeliver", needs: eitherRead, setup: id((*world).delivery),
		refusedAs: []int{403, 404}}, // F2, F3

	// Zapier's routes take subscribe:webhook itself (DESIGN.md: Zapier
	// subscriptions are one's own), plus the event's read permission.
	{method: "POST", path: "/v1/zapier/hooks", needs: [][]string{{sub, read}},
		body: func(_ *testing.T, w *world) any {
			return map[string]any{"hookUrl": w.recv.URL + "/zap", "event": "customer.created"}
		}},
	{method: "DELETE", path: "/v1/zapier/hooks/{id}", needs: [][]string{{sub}}, setup: id((*world).zapierHook)},
	{method: "GET", path: "/v1/zapier/samples/customer.created", needs: [][]string{{sub, read}}},

	{method: "GET", path: "/v1/actions"},
	{method: "POST", path: "/v1/actions/create_customer", needs: [][]string{{perm.CreateCustomer}}, body: newCustomer},
	{method: "POST", path: "/v1/actions/update_customer", needs: [][]string{{perm.UpdateCustomer}},
		body: func(t *testing.T, w *world) any { return map[string]any{"id": w.customer(t), "notes": "n"} }},
	{method: "POST", path: "/v1/actions/upsert_customer", needs: [][]string{{perm.UpdateCustomer}},
		body: func(t *testing.T, w *world) any { return map[string]any{"email": w.customerEmail(t), "notes": "n"} }},
	{method: "POST", path: "/v1/actions/upsert_customer", needs: [][]string{{perm.UpdateCustomer, perm.CreateCustomer}},
		body: newCustomer},
	{method: "POST", path: "/v1/actions/find_customer", needs: [][]string{{read}},
		body: fixed(map[string]any{"email": "nobody@example.com"})},
	{method: "POST", path: "/v1/actions/delete_customer", needs: [][]string{{perm.DeleteCustomer}},
		body: func(t *testing.T, w *world) any { return map[string]any{"id": w.customer(t)} }},
	{method: "POST", path: "/v1/actions/publish_event", needs: [][]string{{perm.PublishEvent}},
		body: fixed(map[string]any{"type": "order.paid", "data": map[string]any{"order_id": "o3"}})},

	{method: "GET", path: "/v1/incidents", needs: either},
	// The owner of the webhook the incident echoed may resolve it with
	// subscribe:webhook (F15); anyone with manage:webhook may.
	{method: "POST", path: "/v1/incidents/{id}/resolve", needs: either, setup: id((*world).incident)},

	// Inbound endpoints take the permissions of the action they run.
	{method: "GET", path: "/v1/inbound-endpoints"},
	{method: "POST", path: "/v1/inbound-endpoints", needs: [][]string{{perm.CreateCustomer}},
		body: fixed(map[string]any{"name": "form", "action": "create_customer"})},
	{method: "POST", path: "/v1/inbound-endpoints", needs: [][]string{{perm.PublishEvent}},
		body: fixed(map[string]any{"name": "orders", "action": "publish_event"})},
	{method: "GET", path: "/v1/inbound-endpoints/{id}", needs: [][]string{{perm.CreateCustomer}}, setup: createEndpoint},
	{method: "GET", path: "/v1/inbound-endpoints/{id}", needs: [][]string{{perm.PublishEvent}},
		setup: func(t *testing.T, w *world) string { return w.endpoint(t, "publish_event") }},
	{method: "PATCH", path: "/v1/inbound-endpoints/{id}", needs: [][]string{{perm.CreateCustomer}}, setup: createEndpoint,
		body: fixed(map[string]any{"name": "renamed"})},
	{method: "DELETE", path: "/v1/inbound-endpoints/{id}", needs: [][]string{{perm.CreateCustomer}}, setup: createEndpoint},
	{method: "POST", path: "/v1/inbound-endpoints/{id}/rotate-token", needs: [][]string{{perm.CreateCustomer}}, setup: createEndpoint},
	{method: "GET", path: "/v1/inbound-endpoints/{id}/requests", needs: [][]string{{perm.CreateCustomer}}, setup: createEndpoint},
}

func createEndpoint(t *testing.T, w *world) string { return w.endpoint(t, "create_customer") }

func newUser(t *testing.T, w *world) string {
	t.Helper()
	r := w.do(t, "POST", "/v1/users", map[string]any{"name": "U", "email": fmt.Sprintf("nu%d@example.com", next()),
		"password": "password123", "permissions": []string{read}}).Want(201)
	return r.Str("id")
}

// Every /v1 route the server registers has a row in the table: a route
// added without one fails here, so the table cannot fall behind.
func TestPrivileges_TableCoversEveryRoute(t *testing.T) {
	api := apitest.New(t)
	seen := 0
	for _, rt := range api.App.GetRoutes(true) {
		if !strings.HasPrefix(rt.Path, "/v1/") || rt.Method == "HEAD" {
			continue
		}
		seen++
		pattern := regexp.MustCompile("^" + regexp.MustCompile(`:[a-z]+`).ReplaceAllString(regexp.QuoteMeta(rt.Path), `[^/]+`) + "$")
		covered := slices.ContainsFunc(routes, func(r route) bool { return r.method == rt.Method && pattern.MatchString(r.path) })
		if !covered {
			t.Errorf("%s %s has no row in the privilege table", rt.Method, rt.Path)
		}
	}
	if seen < 40 {
		t.Fatalf("only %d /v1 routes registered: the route listing is broken", seen)
	}
}

// refusals returns the smallest sets of permissions whose removal leaves a
// caller with no set of needs: one permission from each set, deduplicated,
// supersets dropped. For {{sub, read}, {manage, read}} that is {read} and
// {manage, sub}.
func refusals(needs [][]string) [][]string {
	if len(needs) == 0 {
		return nil
	}
	picks := [][]string{{}}
	for _, set := range needs {
		var grown [][]string
		for _, p := range picks {
			for _, x := range set {
				q := slices.Clone(p)
				if !slices.Contains(q, x) {
					q = append(q, x)
				}
				slices.Sort(q)
				grown = append(grown, q)
			}
		}
		picks = grown
	}
	var out [][]string
	for _, p := range picks {
		redundant := slices.ContainsFunc(picks, func(o []string) bool { return len(o) < len(p) && subset(o, p) }) ||
			slices.ContainsFunc(out, func(o []string) bool { return slices.Equal(o, p) })
		if !redundant {
			out = append(out, p)
		}
	}
	return out
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func TestRefusals(t *testing.T) {
	got := fmt.Sprint(refusals(eitherRead), refusals(either), refusals([][]string{{perm.ManageKeys}}), refusals(nil))
	if want := "[[manage:webhook subscribe:webhook] [read:customer]] [[manage:webhook subscribe:webhook]] [[manage:keys]] []"; got != want {
		t.Fatalf("refusals %s, want %s", got, want)
	}
}

func (r route) name() string {
	return r.method + " " + r.path
}

func (r route) request(t *testing.T, w *world) (path string, body any) {
	t.Helper()
	path = r.path
	if r.setup != nil {
		path = strings.Replace(path, "{id}", r.setup(t, w), 1)
	}
	if r.body != nil {
		body = r.body(t, w)
	}
	return path, body
}

// TestPrivileges runs the table: for each route, a key holding every
// permission except a needed one is refused (403 naming a permission it
// lacks, or 404 where not readable looks absent), and a key holding just a
// set of needed permissions is not refused. Refusals are checked against
// docs/openapi.yaml too (a 403 is documented and names the permission).
func TestPrivileges(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.StartWorker() // incidents need deliveries to echo
	w := newWorld(t, api, "Studio")
	for i, r := range routes {
		t.Run(fmt.Sprintf("%02d %s", i, r.name()), func(t *testing.T) {
			for _, drop := range refusals(r.needs) {
				t.Run("without "+strings.Join(drop, "+"), func(t *testing.T) {
					path, body := r.request(t, w)
					got := api.With(t).Do(r.method, path, w.key(t, without(drop...)...), body)
					refusedAs := r.refusedAs
					if refusedAs == nil {
						refusedAs = []int{403}
					}
					if !slices.Contains(refusedAs, got.Status) {
						t.Fatalf("status %d, want %v; body %s", got.Status, refusedAs, got.Body)
					}
					if got.Status == 403 && !slices.Contains(drop, errorPermission(got)) {
						t.Fatalf("403 names %q, want one of %v; body %s", errorPermission(got), drop, got.Body)
					}
				})
			}
			allowed := r.needs
			if allowed == nil {
				allowed = [][]string{{perm.ManageAccount}} // any valid key: one that holds nothing relevant
			}
			for _, set := range allowed {
				t.Run("with "+strings.Join(set, "+"), func(t *testing.T) {
					path, body := r.request(t, w)
					// Only the status matters here: the answer's shape is each
					// package's own tests' business.
					got := api.With(t).Probe(r.method, path, w.key(t, set...), body)
					if got.Status == 401 || got.Status == 403 || got.Status >= 500 {
						t.Fatalf("status %d; body %s", got.Status, got.Body)
					}
				})
			}
		})
	}
}
