package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
)

// axeSHA256 pins the vendored axe-core 4.14.1 axe.min.js (npm pack
// axe-core@4; MPL-2.0, testdata/axe.LICENSE). It is used by tests only and
// never served. Updating axe means updating this line on purpose.
const axeSHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"

func TestVendoredAxeChecksum(t *testing.T) {
	b, err := os.ReadFile("testdata/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != axeSHA256 {
		t.Fatalf("testdata/axe.min.js: got sha256 %s, want %s", got, axeSHA256)
	}
}

// violation is one axe finding, as much as a failure message needs.
type violation struct {
	ID, Impact, Help string
	Nodes            []struct{ Target []any }
}

// axe injects axe-core (through the DevTools protocol, which the CSP does
// not govern) and returns its violations on the current page.
func (s *session) axe(axe, page string) []violation {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 60*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axe+"\n;true"))
	var out string
	if err == nil {
		out, err = chromedp.Run(ctx, chromedp.Evaluate[string](
			`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	}
	if err != nil {
		s.t.Fatalf("axe on %s: %v", page, err)
	}
	var vs []violation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		s.t.Fatalf("axe result on %s: %v", page, err)
	}
	return vs
}

// axeCheck fails on any serious or critical violation on the current page.
func (s *session) axeCheck(axe, page, scheme string) {
	s.t.Helper()
	vs := s.axe(axe, page)
	for _, v := range vs {
		if v.Impact != "serious" && v.Impact != "critical" {
			s.t.Logf("%s (%s theme): %s %s: %s", page, scheme, v.Impact, v.ID, v.Help)
			continue
		}
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprint(n.Target...))
		}
		s.t.Errorf("%s (%s theme): %s %s: %s at %s", page, scheme, v.Impact, v.ID, v.Help, strings.Join(where, ", "))
	}
}

// scheme emulates prefers-color-scheme, which picks the CSS theme.
func scheme(name string) chromedp.Action[chromedp.Void] {
	return command(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: name}}})
}

// command runs one DevTools protocol command as a step.
func command[P, R any](cmd cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, cmd, params)
		return chromedp.Void{}, err
	}
}

// world is an account with something on every page: a webhook with
// deliveries, an inbound endpoint with a request, a custom event type and
// an open loop incident (made as inbound's loop tests make one: an
// integration that keeps writing back what it was just sent).
func world(t *testing.T, api *apitest.API, ownerKey string) (whk, dlv, evt, inb string) {
	t.Helper()
	recv := receiver.New(t)
	var w struct{ ID string }
	api.Do("POST", "/v1/webhooks", ownerKey, map[string]any{"name": "Orders", "url": recv.URL + "/hook",
		"events": []string{"customer.created"}}).Want(201).JSON(&w)
	api.Do("PATCH", "/v1/webhooks/"+w.ID, ownerKey, map[string]any{"active": true}).Want(200)
	api.Do("POST", "/v1/event-types", ownerKey, map[string]any{"name": "order.paid", "description": "An order was paid.",
		"sample": map[string]any{"order_id": "o1"}}).Want(201)
	inb = api.Do("POST", "/v1/inbound-endpoints", ownerKey, map[string]any{"name": "Typeform", "action": "create_customer"}).Want(201).Str("id")

	acct := apitestAccount(t, api, ownerKey)
	zapKey := api.Key(acct, perm.SubscribeWebhook, perm.ReadCustomer, perm.CreateCustomer, perm.UpdateCustomer)
	zap := receiver.New(t)
	api.Do("POST", "/v1/zapier/hooks", zapKey, map[string]any{"hookUrl": zap.URL, "event": "customer.created"}).Want(201)
	api.Do("POST", "/v1/customers", ownerKey, map[string]any{"name": "Ann", "email": "ann@example.com"}).Want(201)
	zap.WaitFor(t, 1, 10*time.Second)
	for i := 0; i < 3; i++ {
		api.Do("POST", "/v1/actions/create_customer", zapKey, map[string]any{"name": "Ann", "email": "ann@example.com"}).Want(200)
	}
	var page struct {
		Data []struct {
			ID      string
			EventID string `json:"event_id"`
		}
	}
	apitest.WaitFor(t, 10*time.Second, "a customer.created delivery", func() bool {
		api.Do("GET", "/v1/webhooks/"+w.ID+"/deliveries?event_type=customer.created", ownerKey, nil).Want(200).JSON(&page)
		return len(page.Data) > 0
	})
	return w.ID, page.Data[0].ID, page.Data[0].EventID, inb
}

// apitestAccount is the account of a key, for apitest.Key.
func apitestAccount(t *testing.T, api *apitest.API, key string) apitest.Account {
	t.Helper()
	var me struct {
		Account struct{ ID string }
		User    struct{ ID string }
	}
	api.Do("GET", "/v1/me", key, nil).Want(200).JSON(&me)
	return apitest.Account{ID: me.Account.ID, UserID: me.User.ID, Key: key}
}

// Every page, in both themes, has no serious or critical axe violation;
// the main pages are screenshotted at 390×844; and an open loop incident
// is resolved from the incidents page.
func TestBrowser_AccessibilityThemesMobileIncidents(t *testing.T) {
	axe, err := os.ReadFile("testdata/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	api := apitest.New(t)
	api.StartWorker()
	owner := newOwner(t, api, "a11y@example.com")
	whk, dlv, evt, inb := world(t, api, owner.RawKey)
	base := api.URL()
	s := newSession(t)

	// The check can fail: an image without a text alternative is found.
	s.run("axe-finds-a-planted-violation", chromedp.Navigate(base+"/login"), visible(`#email`),
		void(chromedp.Evaluate[bool](`document.querySelector("main").appendChild(document.createElement("img")).src = "/static/favicon.svg", true`)))
	if vs := s.axe(string(axe), "/login with a planted image"); !hasViolation(vs, "image-alt") {
		t.Fatalf("axe did not report the planted image without alt: %+v", vs)
	}
	s.run("login-page", chromedp.Navigate(base+"/login"), visible(`#email`))
	s.axeCheck(string(axe), "/login", "light")
	s.run("sign-in",
		fill(`#email`, "a11y@example.com"), fill(`#password`, "password123"),
		click(`main button[type=submit]`), waitText("Orders"))

	pages := []string{"/webhooks", "/webhooks/new", "/webhooks/" + whk, "/webhooks/" + whk + "/edit", "/deliveries/" + dlv,
		"/events/" + evt, "/event-types", "/keys", "/inbound", "/inbound/" + inb, "/incidents", "/users", "/account",
		"/system", "/search?q=whk_00000000000000000000000000"}
	for _, sc := range []string{"light", "dark"} {
		for _, p := range pages {
			s.run("axe-"+sc+shotName(p), scheme(sc), chromedp.Navigate(base+p), waitJS(`document.readyState === "complete"`))
			s.axeCheck(string(axe), p, sc)
		}
	}

	s.run("mobile-viewport", command(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true}), scheme("light"))
	for _, p := range []string{"/webhooks", "/webhooks/" + whk, "/deliveries/" + dlv, "/keys", "/inbound", "/incidents", "/account"} {
		s.run("mobile"+shotName(p), chromedp.Navigate(base+p), waitJS(`document.readyState === "complete"`),
			// Nothing may need sideways scrolling of the whole page.
			waitJS(`document.documentElement.scrollWidth <= window.innerWidth + 1`))
	}
	s.run("desktop-viewport", command(emulation.ClearDeviceMetricsOverride, cdp.Empty{}))

	s.run("search-jumps-to-event",
		chromedp.Navigate(base+"/webhooks"),
		fill(`#q`, evt), click(`.search button`),
		waitJS(fmt.Sprintf(`location.pathname === "/events/%s"`, evt)),
		waitText(dlv))
	s.run("incident-open",
		chromedp.Navigate(base+"/incidents"),
		waitText("Open"))
	s.run("incident-resolved",
		click(`form[action$="/resolve"] button`),
		waitText("Resolved"),
		waitJS(`!document.querySelector('form[action$="/resolve"]')`))
}

// shotName turns a path into part of a screenshot's file name.
func shotName(path string) string {
	return strings.NewReplacer("/", "_", "?", "_", "=", "-").Replace(path)
}

func hasViolation(vs []violation, id string) bool {
	for _, v := range vs {
		if v.ID == id {
			return true
		}
	}
	return false
}
