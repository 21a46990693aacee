package outbound_test

import (
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/internal/redistest"
)

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(runWorkerProcess())
	}
	os.Exit(redistest.Main(m))
}

// fixture is a gateway with a running worker and one account.
type fixture struct {
	*apitest.API
	acct apitest.Account
}

func newFixture(t *testing.T, opts ...apitest.Option) *fixture {
	t.Helper()
	api := apitest.New(t, opts...)
	api.StartWorker()
	return &fixture{API: api, acct: api.NewAccount("Studio")}
}

type webhookJSON struct {
	ID             string
	Secret         string
	Active         bool
	DisabledReason *string `json:"disabled_reason"`
}

// webhook creates an active webhook on the customer events (activation's
// webhook.test delivery is awaited and left out of what recv reports).
func (f *fixture) webhook(t *testing.T, recv *receiver.Receiver, extra map[string]any) webhookJSON {
	t.Helper()
	body := map[string]any{"name": "test", "url": recv.URL + "/hook", "events": []string{"customer.created", "customer.updated"}}
	for k, v := range extra {
		body[k] = v
	}
	var w webhookJSON
	f.Do("POST", "/v1/webhooks", f.acct.Key, body).Want(201).JSON(&w)
	return w
}

func (f *fixture) activate(t *testing.T, id string) {
	t.Helper()
	f.Do("PATCH", "/v1/webhooks/"+id, f.acct.Key, map[string]any{"active": true}).Want(200)
}

func (f *fixture) createCustomer(t *testing.T, email string) string {
	t.Helper()
	return f.Do("POST", "/v1/customers", f.acct.Key, map[string]any{"name": "Ann", "email": email}).Want(201).Str("id")
}

type deliveryJSON struct {
	ID             string
	EventID        string `json:"event_id"`
	EventType      string `json:"event_type"`
	Status         string
	Attempts       int
	LastStatusCode *int          `json:"last_status_code"`
	NextAttemptAt  *time.Time    `json:"next_attempt_at"`
	AttemptLog     []attemptJSON `json:"attempt_log"`
	Payload        map[string]any
}

type attemptJSON struct {
	Number         int
	StartedAt      time.Time         `json:"started_at"`
	StatusCode     int               `json:"status_code"`
	RequestHeaders map[string]string `json:"request_headers"`
	ResponseBody   string            `json:"response_body"`
	ErrorClass     string            `json:"error_class"`
	Error          string
	DurationMS     int64 `json:"duration_ms"`
	Trigger        string
}

// deliveries lists a webhook's deliveries of one event type.
func (f *fixture) deliveries(t *testing.T, whk, eventType string) []deliveryJSON {
	t.Helper()
	var page struct{ Data []deliveryJSON }
	f.Do("GET", "/v1/webhooks/"+whk+"/deliveries?event_type="+url.QueryEscape(eventType), f.acct.Key, nil).Want(200).JSON(&page)
	return page.Data
}

func (f *fixture) delivery(t *testing.T, id string) deliveryJSON {
	t.Helper()
	var d deliveryJSON
	f.Do("GET", "/v1/deliveries/"+id, f.acct.Key, nil).Want(200).JSON(&d)
	return d
}

// waitStatus polls a webhook's only delivery of eventType until it has status.
func (f *fixture) waitStatus(t *testing.T, whk, eventType, status string, timeout time.Duration) deliveryJSON {
	t.Helper()
	var got deliveryJSON
	apitest.WaitFor(t, timeout, "a "+eventType+" delivery "+status, func() bool {
		ds := f.deliveries(t, whk, eventType)
		if len(ds) == 0 {
			return false
		}
		got = ds[0]
		return got.Status == status
	})
	return f.delivery(t, got.ID)
}

// only returns the requests carrying events of one type.
func only(reqs []receiver.Request, eventType string) []receiver.Request {
	var out []receiver.Request
	for _, r := range reqs {
		if strings.Contains(string(r.Body), `"type":"`+eventType+`"`) || strings.Contains(r.URL, "event_type="+eventType) {
			out = append(out, r)
		}
	}
	return out
}

// slowAndFast makes two webhooks: ws on a receiver that holds every answer
// until the test ends (timeout 30 s), wf on one that answers at once.
// Neither is activated.
func (f *fixture) slowAndFast(t *testing.T) (slow, fast *receiver.Receiver, ws, wf webhookJSON) {
	t.Helper()
	hold := make(chan struct{})
	slow = receiver.New(t, receiver.Reply{Status: 200, Hold: hold})
	t.Cleanup(func() { close(hold) }) // before the receiver's Close, which waits for held requests
	fast = receiver.New(t)
	ws = f.webhook(t, slow, map[string]any{"timeout": "30s"})
	wf = f.webhook(t, fast, nil)
	return slow, fast, ws, wf
}
