package outbound_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound"
)

// A webhook's max_in_flight holds across worker processes: two workers,
// each with 50 Asynq workers of its own, never have more than the cap open
// at the receiver, and every delivery still arrives (attempts past the cap
// park and are woken by releases, not by Asynq's forwarder).
func TestMaxInFlight_HoldsAcrossWorkerProcesses(t *testing.T) {
	t.Parallel()
	const limit, events = 3, 40
	api := apitest.New(t) // API only: the workers are child processes
	acct := api.NewAccount("Studio")
	var open, peak, done atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := open.Add(1)
		for m := peak.Load(); n > m && !peak.CompareAndSwap(m, n); m = peak.Load() {
		}
		time.Sleep(40 * time.Millisecond) // long enough for attempts to pile up at the cap
		open.Add(-1)
		done.Add(1)
		w.WriteHeader(204)
	}))
	t.Cleanup(recv.Close)

	var w webhookJSON
	api.Do("POST", "/v1/webhooks", acct.Key, map[string]any{"name": "t", "url": recv.URL, "events": []string{"customer.created"}, "max_in_flight": limit}).Want(201).JSON(&w)
	var got struct {
		MaxInFlight int `json:"max_in_flight"`
	}
	api.Do("PATCH", "/v1/webhooks/"+w.ID, acct.Key, map[string]any{"active": true}).Want(200).JSON(&got)
	if got.MaxInFlight != limit {
		t.Fatalf("got max_in_flight %d, want %d", got.MaxInFlight, limit)
	}
	for i := range events {
		api.Do("POST", "/v1/customers", acct.Key, map[string]any{"name": "Ann", "email": "ann" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com"}).Want(201)
	}
	startWorkerProcess(t, api)
	startWorkerProcess(t, api)
	apitest.WaitFor(t, 30*time.Second, "every delivery", func() bool { return done.Load() >= events+1 })
	if p := peak.Load(); p > limit || p < 2 {
		t.Fatalf("got at most %d requests open at once, want 2…%d", p, limit)
	}
}

func TestMaxInFlight_Validated(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	acct := api.NewAccount("Studio")
	recv := receiver.New(t)
	for _, n := range []int{-1, 101} {
		r := api.Do("POST", "/v1/webhooks", acct.Key, map[string]any{"name": "t", "url": recv.URL, "events": []string{"customer.created"}, "max_in_flight": n}).Want(422)
		if !strings.Contains(string(r.Body), "max_in_flight") {
			t.Fatalf("max_in_flight %d: got %s, want a field error naming it", n, r.Body)
		}
	}
	id := api.Do("POST", "/v1/webhooks", acct.Key, map[string]any{"name": "t", "url": recv.URL, "events": []string{"customer.created"}}).Want(201).Str("id")
	api.Do("PATCH", "/v1/webhooks/"+id, acct.Key, map[string]any{"max_in_flight": 0}).Want(422)
	var w struct {
		MaxInFlight int `json:"max_in_flight"`
	}
	api.Do("PATCH", "/v1/webhooks/"+id, acct.Key, map[string]any{"max_in_flight": 25}).Want(200).JSON(&w)
	if w.MaxInFlight != 25 {
		t.Fatalf("got max_in_flight %d, want 25", w.MaxInFlight)
	}
}

// The delivery metrics after a known sequence: a test event and a customer
// delivered, a 500 retried then failed, a 410 gone.
func TestMetrics_AfterAKnownSequence(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := newFixture(t, apitest.WithOutbound(func(o *outbound.Options) { o.Metrics = reg }))
	ok := receiver.New(t)
	w := f.webhook(t, ok, map[string]any{"events": []string{"customer.created"}})
	f.activate(t, w.ID)
	f.waitStatus(t, w.ID, "webhook.test", "delivered", 10*time.Second)
	f.createCustomer(t, "a@example.com")
	f.waitStatus(t, w.ID, "customer.created", "delivered", 10*time.Second)

	bad := receiver.New(t, receiver.Statuses(200, 500, 500)...)
	wb := f.webhook(t, bad, map[string]any{"events": []string{"customer.updated"}, "retry_schedule": []string{"1s"}})
	f.activate(t, wb.ID)
	f.waitStatus(t, wb.ID, "webhook.test", "delivered", 10*time.Second)
	gone := receiver.New(t, receiver.Statuses(200, 410)...)
	wg := f.webhook(t, gone, map[string]any{"events": []string{"customer.updated"}})
	f.activate(t, wg.ID)
	f.waitStatus(t, wg.ID, "webhook.test", "delivered", 10*time.Second)
	id := f.createCustomer(t, "b@example.com")
	f.Do("PATCH", "/v1/customers/"+id, f.acct.Key, map[string]any{"name": "Bo"}).Want(200)
	f.waitStatus(t, wb.ID, "customer.updated", "failed", 15*time.Second)
	apitest.WaitFor(t, 10*time.Second, "the 410 counted", func() bool { return counter(t, reg, "gone", "api") == 1 })

	want := map[string]float64{"delivered": 5, "retried": 1, "failed": 1, "gone": 1, "deferred": 0}
	for outcome, n := range want {
		if got := counter(t, reg, outcome, "api"); got != n {
			t.Errorf("hookline_deliveries_total{outcome=%q,source=\"api\"}: got %v, want %v", outcome, got, n)
		}
	}
	fams := families(t, reg)
	if h := fams["hookline_delivery_attempt_duration_seconds"]; h == nil || h.Metric[0].GetHistogram().GetSampleCount() != 8 {
		t.Errorf("attempt duration histogram: got %v, want 8 observations", h)
	}
	if h := fams["hookline_delivery_first_attempt_latency_seconds"]; h == nil || h.Metric[0].GetHistogram().GetSampleCount() != 4 {
		t.Errorf("first-attempt latency histogram: got %v, want 4 observations (one per event delivery; tests are not scheduled)", h)
	}
	f.Server.Outbound.SampleQueue(context.Background())
	fams = families(t, reg)
	states := map[string]bool{}
	for _, m := range fams["hookline_delivery_queue_tasks"].GetMetric() {
		states[m.Label[0].GetValue()] = true
	}
	for _, s := range []string{"pending", "active", "scheduled", "retry", "archived"} {
		if !states[s] {
			t.Errorf("hookline_delivery_queue_tasks has no state %q: %v", s, states)
		}
	}
	for _, name := range []string{"hookline_delivery_queue_oldest_pending_age_seconds", "hookline_webhooks_auto_disabled_total"} {
		if fams[name] == nil {
			t.Errorf("%s is not registered", name)
		}
	}
}

func families(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fs {
		out[f.GetName()] = f
	}
	return out
}

func counter(t *testing.T, reg *prometheus.Registry, outcome, source string) float64 {
	for _, m := range families(t, reg)["hookline_deliveries_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.Label {
			l[p.GetName()] = p.GetValue()
		}
		if l["outcome"] == outcome && l["source"] == source {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
