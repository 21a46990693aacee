package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
)

// chromium finds a Chromium or Chrome binary; "" when there is none.
func chromium() string {
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// session is one headless browser with its own profile, recording console
// errors and failed requests, and screenshotting each step.
type session struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	step   int
	mu     sync.Mutex
	errors []string
}

func newSession(t *testing.T) *session {
	t.Helper()
	bin := chromium()
	if bin == "" {
		t.Skip("browser tests skipped: no chromium binary found (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("headless", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	var s *session
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) { s.record(ev) }))
	t.Cleanup(func() { cancelC(); cancelA() })
	dir := os.Getenv("HOOKLINE_TEST_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	s = &session{t: t, ctx: ctx, dir: filepath.Join(dir, t.Name())}
	// Only this run's screenshots: step numbers change as the walk does.
	if err := os.RemoveAll(s.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The first call starts the browser; it must not carry a timeout.
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, e := range s.errors {
			t.Error(e)
		}
	})
	return s
}

// record keeps console errors, uncaught exceptions and failed requests.
func (s *session) record(ev any) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			s.errors = append(s.errors, fmt.Sprintf("console error at step %d", s.step))
		}
	case *runtime.EventExceptionThrown:
		s.errors = append(s.errors, fmt.Sprintf("exception at step %d: %s", s.step, e.ExceptionDetails.Text))
	case *network.EventLoadingFailed:
		if !e.Canceled {
			s.errors = append(s.errors, fmt.Sprintf("request failed at step %d: %s", s.step, e.ErrorText))
		}
	}
}

// run runs actions, then saves a screenshot named after the step.
func (s *session) run(name string, actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	s.mu.Lock()
	s.step++
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(s.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		s.shot(name + "-FAILED")
		s.t.Fatalf("step %d %s: %v", s.step, name, err)
	}
	s.shot(name)
}

func (s *session) shot(name string) {
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG, as named
	if err != nil {
		return
	}
	_ = os.WriteFile(filepath.Join(s.dir, fmt.Sprintf("%02d-%s.png", s.step, name)), png, 0o644)
}

// waitText waits until the page's text contains want.
func waitText(want string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`document.body && document.body.innerText.includes(%q)`, want))
}

// waitJS waits until a JavaScript expression is true.
// Polls that fail because a navigation replaced the page are retried until
// the deadline.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(2*time.Second))(ctx, t)
			if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
				if err != nil {
					err = fmt.Errorf("waiting for %s: %w", expr, err)
				}
				return chromedp.Void{}, err
			}
		}
	}
}

func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

func fill(sel, text string) chromedp.Action[chromedp.Void] {
	clear := void(chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q).value = "", true)`, sel)))
	return chromedp.Steps(visible(sel), clear, chromedp.SendKeys(chromedp.CSS(sel), text))
}

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

// liveClick clicks an element inside the Log History, which a live refresh
// replaces every 2 s: when the refresh removes the node between finding it
// and clicking it, the click fails before anything is sent, and is tried
// again on the new node.
func liveClick(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var err error
		for i := 0; i < 5; i++ {
			if _, err = click(sel)(ctx, t); err == nil || ctx.Err() != nil {
				break
			}
		}
		return chromedp.Void{}, err
	}
}

func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

// value reads an input's value.
func (s *session) value(sel string) string {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		s.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// eval evaluates a string expression.
func (s *session) eval(expr string) string {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		s.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// rowIs is a JavaScript test that the Log History row of an event type
// shows every one of the texts (status, response, attempt count).
func rowIs(eventType string, texts ...string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('li.delivery .sum')].some(r => r.innerText.includes(%q) && %s.every(t => r.innerText.includes(t)))`,
		eventType, jsStrings(texts))
}

func jsStrings(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// gate holds a scripted receiver answer until opened.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) release() { g.once.Do(func() { close(g.ch) }) }

// open is a step action that releases the held answer.
func (g *gate) open() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(context.Context, *chromedp.Target) error { g.release(); return nil })
}

// markPage leaves a marker that a reload would erase.
var markPage = void(chromedp.Evaluate[bool](`window.__noReload = true`))

const notReloaded = `window.__noReload === true`

// The "Done when" walk, in a real browser against a live server.
func TestBrowser_WebhooksWalkthrough(t *testing.T) {
	api := apitest.New(t)
	api.StartWorker()
	owner := newOwner(t, api, "owner@example.com")
	// The receiver answers webhook.test, then fails customer.created twice
	// (its first attempt and its one retry) and once more when "Retry
	// failed" sends it again; then it is fixed. Attempts 2 to 4 are held
	// until the test releases them, so that the browser sees each pending
	// state before its outcome, and each outcome arrive without a reload.
	hold2, hold3, hold4 := newGate(), newGate(), newGate()
	recv := receiver.New(t,
		receiver.Reply{Status: 200, Body: "ok"},
		receiver.Reply{Status: 500, Body: "boom"},
		receiver.Reply{Status: 500, Body: "boom", Hold: hold2.ch},
		receiver.Reply{Status: 500, Body: "still broken", Hold: hold3.ch},
		receiver.Reply{Status: 200, Body: "ok again", Hold: hold4.ch})
	// Registered after the receiver's own cleanup, so it runs first: a
	// failed test never leaves Close waiting on a held request.
	t.Cleanup(func() { hold2.release(); hold3.release(); hold4.release() })
	base := api.URL()
	s := newSession(t)

	s.run("login-wrong-password",
		chromedp.Navigate(base+"/webhooks"),
		visible(`#email`),
		fill(`#email`, "owner@example.com"), fill(`#password`, "wrong-password"),
		click(`button[type=submit]`),
		waitText("Wrong email or password."))
	s.run("empty-state",
		fill(`#password`, "password123"),
		click(`main button[type=submit]`),
		waitText("No webhooks yet"))

	s.run("invalid-form",
		click(`main a.button.primary`),
		visible(`#url`),
		fill(`#url`, "not a url"),
		click(`main button.primary`),
		visible(`#name-err`),
		waitJS(`document.querySelector('#url').value === 'not a url' && document.querySelector('#name').getAttribute('aria-invalid') === 'true'`))

	var secret string
	s.run("created-secret-once",
		fill(`#name`, "Orders"), fill(`#url`, recv.URL+"/hook"),
		click(`input[name=auth_type][value=basic]`),
		fill(`#auth_username`, "hook"), fill(`#auth_password`, "s3cret-pass"),
		click(`input[value="customer.created"]`),
		// One retry, 2 s after the first attempt: the customer.created
		// delivery is pending with its next try, then failed.
		fill(`#retry_schedule`, "2s"), fill(`#timeout`, "30s"),
		click(`main button.primary`),
		visible(`#secret`))
	secret = s.value(`#secret`)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret: got %q, want whsec_…", secret)
	}

	s.run("list-inactive",
		chromedp.Navigate(base+"/webhooks"),
		waitJS(`document.querySelector('button[role=switch]').getAttribute('aria-checked') === 'false'`),
		waitText("Inactive"))
	s.run("toggle-on-row-shows-200",
		markPage,
		click(`button[role=switch]`),
		waitJS(`document.querySelector('button[role=switch]').getAttribute('aria-checked') === 'true'`),
		waitJS(`document.querySelector('td.latest') && document.querySelector('td.latest').innerText.includes('200')`),
		waitJS(notReloaded))
	reqs := recv.WaitFor(t, 1, 10*time.Second)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(reqs[0].Body, reqs[0].Header); err != nil {
		t.Fatalf("webhook.test signature: %v", err)
	}
	if !strings.Contains(string(reqs[0].Body), `"webhook.test"`) {
		t.Fatalf("first delivery is not webhook.test: %s", reqs[0].Body)
	}

	var whID string
	s.run("open-detail",
		click(`tbody th a`),
		waitText("Log History"))
	whID = s.eval(`location.pathname.split('/').pop()`)

	// A customer created through the API: the receiver answers 500.
	api.Do("POST", "/v1/customers", owner.RawKey, map[string]any{"name": "Ann", "email": "ann@example.com"}).Want(201)
	s.run("failed-delivery-pending-live",
		markPage,
		waitJS(rowIs("customer.created", "Pending", "next try", "Response 500", "1 attempt(s)")),
		waitJS(notReloaded))

	s.run("filter-in-url-survives-reload",
		chromedp.Navigate(base+"/webhooks/"+whID+"?status=pending"),
		chromedp.Reload(),
		waitJS(`document.querySelector('#f-status').value === 'pending' && document.querySelectorAll('li.delivery').length === 1`),
		waitJS(rowIs("customer.created", "Pending", "next try")))
	dlv := strings.TrimPrefix(s.eval(`document.querySelector('li.delivery').id`), "dlv-")
	if !strings.HasPrefix(dlv, "dlv_") {
		t.Fatalf("delivery row id: got %q", dlv)
	}
	more := "#more-" + dlv

	s.run("expand-payload-and-attempt",
		liveClick(more+` > summary`),
		liveClick(more+` details.attempt > summary`),
		waitJS(fmt.Sprintf(`document.querySelector(%q).innerText.includes('"customer.created"')`, more)),
		waitJS(fmt.Sprintf(`(a => a.innerText.includes('Attempt 1') && a.innerText.includes('500') && a.innerText.includes('boom'))(document.querySelector(%q))`, more+" details.attempt")),
		waitJS(`[...document.querySelectorAll('details.attempt tr')].some(r => /authorization/i.test(r.innerText) && r.innerText.includes('[redacted]'))`),
		waitJS(`!document.body.innerText.includes('s3cret-pass')`),
		// The status is shown once, not again as the attempt's error.
		waitJS(fmt.Sprintf(`(t => t.includes('HTTP 500') && !t.includes('HTTP 500 · HTTP 500'))(document.querySelector(%q).innerText)`, more+" details.attempt > summary")),
		// Pending: Redeliver is refused, with the reason.
		waitJS(fmt.Sprintf(`document.querySelector(%q).disabled && document.querySelector(%q).innerText.includes('pending')`, more+" form.inline button", "#why-"+dlv)))

	// The retry (attempt 2) fails too: the delivery ends failed, live. The
	// user watches it with the row and its first attempt open: they stay
	// open across the refreshes, and the details refresh with the row, so
	// attempt 2 shows and Redeliver becomes possible without a reload.
	moreNow := fmt.Sprintf(`document.querySelector(%q)`, more)
	s.run("opened-row-stays-open-live",
		chromedp.Navigate(base+"/webhooks/"+whID),
		waitJS(`!!document.querySelector('#live[aria-checked=true]')`),
		waitJS(rowIs("customer.created", "Pending")),
		markPage,
		liveClick(more+` > summary`),
		liveClick(more+` details.attempt > summary`),
		waitJS(fmt.Sprintf(`(d => d.open && d.querySelector('details.attempt').open)(%s)`, moreNow)),
		void(chromedp.Evaluate[bool](fmt.Sprintf(`(window.__oldMore = %s, true)`, moreNow))),
		// A refresh replaced the details (nothing is kept as it was), and
		// they are open again.
		waitJS(fmt.Sprintf(`(d => d !== window.__oldMore && d.open && d.querySelector('details.attempt').open)(%s)`, moreNow)),
		waitJS(fmt.Sprintf(`%s.querySelector('form.inline button').disabled`, moreNow)),
		waitJS(notReloaded))
	s.run("retry-fails-live",
		hold2.open(),
		waitJS(rowIs("customer.created", "Failed", "Response 500", "2 attempt(s)")),
		waitJS(fmt.Sprintf(`(d => d.open && d.querySelector('details.attempt').open && d.innerText.includes('Attempt 2') && !d.querySelector('form.inline button').disabled && !document.querySelector(%q))(%s)`, "#why-"+dlv, moreNow)),
		waitJS(notReloaded))
	if n := recv.Count(); n != 3 {
		t.Fatalf("receiver got %d requests after the retry, want 3", n)
	}

	// "Retry failed…": the count is shown first, then confirmed. The
	// receiver is still broken, so attempt 3 fails as well.
	s.run("retry-failed-count",
		click(`details.retry > summary`),
		visible(`#r-since`),
		click(`#retry-count-btn`),
		waitJS(`!!document.querySelector('#retry-count') && document.querySelector('#retry-count').innerText.includes('1 failed delivery')`))
	s.run("retry-failed-confirmed",
		click(`#retry-confirm`),
		waitText("1 delivery scheduled again"))
	s.run("retry-failed-fails-again-live",
		click(fmt.Sprintf(`main a.button[href="/webhooks/%s"]`, whID)),
		waitJS(fmt.Sprintf(`location.pathname === "/webhooks/%s" && document.readyState === "complete" && !!document.querySelector('#log')`, whID)),
		waitJS(rowIs("customer.created", "Pending", "2 attempt(s)")),
		markPage,
		hold3.open(),
		waitJS(rowIs("customer.created", "Failed", "3 attempt(s)")),
		waitJS(notReloaded))
	if n := recv.Count(); n != 4 {
		t.Fatalf("receiver got %d requests after Retry failed, want 4", n)
	}

	// The receiver is fixed (its next answer is 200); Redeliver on the
	// failed row sends attempt 4, delivered without a reload.
	s.run("receiver-fixed-redeliver-live",
		chromedp.Navigate(base+"/webhooks/"+whID+"?status=failed"),
		waitJS(`document.querySelectorAll('li.delivery').length === 1`),
		liveClick(more+` > summary`),
		liveClick(more+` form.inline button:not([disabled])`),
		// Redeliver answers with the unfiltered, live log.
		waitJS(`location.search === "" && document.readyState === "complete" && !!document.querySelector('#log')`),
		waitJS(rowIs("customer.created", "Pending", "3 attempt(s)")),
		markPage,
		hold4.open(),
		waitJS(rowIs("customer.created", "Delivered", "Response 200", "4 attempt(s)")),
		waitJS(notReloaded))
	reqs = recv.Requests()
	if len(reqs) != 5 {
		t.Fatalf("receiver got %d requests, want 5", len(reqs))
	}
	for i, r := range reqs[1:] {
		if !strings.Contains(string(r.Body), `"customer.created"`) {
			t.Fatalf("request %d is not customer.created: %s", i+2, r.Body)
		}
		if u, p, ok := (&http.Request{Header: r.Header}).BasicAuth(); !ok || u != "hook" || p != "s3cret-pass" {
			t.Fatalf("request %d: basic auth not sent", i+2)
		}
	}

	var rotated string
	s.run("rotate-secret",
		click(`#rotate`),
		visible(`#secret`))
	rotated = s.value(`#secret`)
	if !strings.HasPrefix(rotated, "whsec_") || rotated == secret {
		t.Fatalf("rotated secret: got %q", rotated)
	}

	var rawKey string
	s.run("keys-create-shown-once",
		chromedp.Navigate(base+"/keys"),
		fill(`#key-name`, "ci"),
		click(`input[name=permissions][value="read:customer"]`),
		click(`main form.card button.primary`),
		visible(`#rawkey`))
	rawKey = s.value(`#rawkey`)
	api.Do("GET", "/v1/customers", rawKey, nil).Want(200)
	s.run("keys-revoke",
		click(`button[aria-label="Revoke ci"]`),
		waitText("Revoked"))
	api.Do("GET", "/v1/customers", rawKey, nil).Want(401)

	s.run("add-second-user",
		chromedp.Navigate(base+"/users"),
		fill(`#u-name`, "Sam"), fill(`#u-email`, "sam@example.com"), fill(`#u-password`, "password456"),
		click(`form[action="/users"] input[value="subscribe:webhook"]`),
		click(`form[action="/users"] input[value="read:customer"]`),
		click(`form[action="/users"] button.primary`),
		waitText("sam@example.com"))

	s.run("sign-out-back-shows-nothing",
		chromedp.Navigate(base+"/webhooks"),
		waitText("Orders"),
		click(`.signout button`),
		visible(`#email`),
		chromedp.NavigateBack(),
		visible(`#email`),
		waitJS(`!document.body.innerText.includes('Orders')`))

	s.run("second-user-signs-in",
		fill(`#email`, "sam@example.com"), fill(`#password`, "password456"),
		click(`main button[type=submit]`),
		waitText("No webhooks yet"))
	s.run("second-user-404-on-first-users-webhook",
		chromedp.Navigate(base+"/webhooks/"+whID),
		waitText("Not found, or not yours to see."),
		waitJS(`!document.body.innerText.includes('Orders')`))
	s.run("second-user-403-keys",
		chromedp.Navigate(base+"/keys"),
		waitText("manage:keys"))

	// A page on another origin of the same site posts a form without the token.
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>x</title><form id=f method=post action="%s/webhooks">
<input name=name value=Evil><input name=url value="%s/evil"><input name=events value=customer.created>
<button>go</button></form>`, base, recv.URL)
	}))
	t.Cleanup(attacker.Close)
	s.run("cross-site-post-refused",
		chromedp.Navigate(attacker.URL),
		click(`button`),
		waitText("did not come from this site"))
	page := api.Do("GET", "/v1/webhooks", owner.RawKey, nil).Want(200).Map()["data"].([]any)
	if len(page) != 1 {
		t.Fatalf("got %d webhooks after the cross-site post, want 1", len(page))
	}
}
