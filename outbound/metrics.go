package outbound

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// Delivery outcomes, the outcome label of hookline_deliveries_total.
const (
	OutcomeDelivered = "delivered" // a 2xx: the delivery is done
	OutcomeFailed    = "failed"    // the last try failed, or the attempt could not be sent at all
	OutcomeRetried   = "retried"   // an attempt failed; a retry is scheduled on the webhook's schedule
	OutcomeDeferred  = "deferred"  // held back by an in-flight cap or a rate limit, without using a try
	OutcomeGone      = "gone"      // the receiver answered 410; the webhook was removed
)

// metrics are the engine's Prometheus series (README, "Metrics").
type metrics struct {
	deliveries    *prometheus.CounterVec
	attempt       prometheus.Histogram
	firstAttempt  prometheus.Histogram
	queueTasks    *prometheus.GaugeVec
	oldestPending prometheus.Gauge
	disabled      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	latency := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_deliveries_total",
			Help: "Delivery attempts by outcome (delivered, failed, retried, deferred, gone) and webhook source (api, zapier, ifttt; unknown once the webhook is deleted).",
		}, []string{"outcome", "source"}),
		attempt: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hookline_delivery_attempt_duration_seconds", Buckets: latency,
			Help: "How long each HTTP request to a receiver took, answered or not.",
		}),
		firstAttempt: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hookline_delivery_first_attempt_latency_seconds", Buckets: latency,
			Help: "From an event's publication to the start of its first delivery attempt to a webhook.",
		}),
		queueTasks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hookline_delivery_queue_tasks",
			Help: "Tasks in the delivery queue by state (pending, active, scheduled, retry, archived), sampled by the worker.",
		}, []string{"state"}),
		oldestPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hookline_delivery_queue_oldest_pending_age_seconds",
			Help: "Age of the oldest task waiting in the delivery queue, sampled by the worker; 0 when none waits.",
		}),
		disabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookline_webhooks_auto_disabled_total",
			Help: "Webhooks Hookline turned off after a run of failed deliveries.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.attempt, m.firstAttempt, m.queueTasks, m.oldestPending, m.disabled)
	}
	return m
}

// outcome counts one attempt's outcome for a webhook of source (empty when
// the webhook is gone).
func (m *metrics) outcome(outcome, source string) {
	if source == "" {
		source = "unknown"
	}
	m.deliveries.WithLabelValues(outcome, source).Inc()
}

// sampleQueue reads the delivery queue's depth by state and its oldest
// pending task from Asynq's inspector, once per call (Jobs runs it every
// Options.QueueSampleEvery), never per scrape.
func (s *Service) sampleQueue(ctx context.Context) {
	counts := map[string]int{}
	var oldest time.Duration
	for _, q := range s.queues() {
		info, err := s.inspector.GetQueueInfo(q)
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			s.opts.Log.Warn("outbound: sample the delivery queue", "queue", q, "err", err)
			return
		}
		counts["pending"] += info.Pending
		counts["active"] += info.Active
		counts["scheduled"] += info.Scheduled
		counts["retry"] += info.Retry
		counts["archived"] += info.Archived
		oldest = max(oldest, info.Latency)
	}
	for _, state := range []string{"pending", "active", "scheduled", "retry", "archived"} {
		s.metrics.queueTasks.WithLabelValues(state).Set(float64(counts[state]))
	}
	s.metrics.oldestPending.Set(oldest.Seconds())
}

// SampleQueue samples the delivery queue now (tests; the worker's loop
// does it every QueueSampleEvery).
func (s *Service) SampleQueue(ctx context.Context) { s.sampleQueue(ctx) }
