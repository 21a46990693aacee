package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/jobs"
)

// TypeDeliver is the Asynq task type of one delivery attempt.
const TypeDeliver = "outbound:deliver"

// deliverPayload points at the records; the body, secrets and URL are read
// when the task runs, so nothing secret sits in the queue and an edited
// webhook takes effect at once.
type deliverPayload struct {
	AccountID  string `json:"a"`
	DeliveryID string `json:"d"`
	WebhookID  string `json:"w"`
	EventID    string `json:"e"`
	Gen        int    `json:"g"`
	// Trigger is why this attempt runs: schedule (the default), redeliver or test.
	Trigger string `json:"t,omitempty"`
}

// taskID is stable per (delivery, generation): enqueuing the same
// generation twice is refused by Asynq.
func taskID(deliveryID string, gen int) string { return deliveryID + "-" + strconv.Itoa(gen) }

// enqueue queues the attempt of d's current generation, at at (zero: now).
// Hookline's delivery record owns the schedule: the task never retries.
func (s *Service) enqueue(ctx context.Context, d Delivery, at time.Time, trigger string) error {
	payload, err := json.Marshal(deliverPayload{AccountID: d.AccountID, DeliveryID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, Gen: d.Gen, Trigger: trigger})
	if err != nil {
		return fmt.Errorf("outbound: encode task: %w", err)
	}
	opts := []asynq.Option{
		asynq.TaskID(taskID(d.ID, d.Gen)), asynq.Queue(s.queueOf(d)), asynq.MaxRetry(0),
		asynq.Timeout(2 * time.Minute),
	}
	if !at.IsZero() && at.After(s.opts.Now()) {
		// Asynq schedules in whole seconds, rounding down: round up instead,
		// so an attempt never runs before its time (Retry-After).
		if r := at.Truncate(time.Second); !r.Equal(at) {
			at = r.Add(time.Second)
		}
		opts = append(opts, asynq.ProcessAt(at))
	}
	_, err = s.q.EnqueueContext(ctx, asynq.NewTask(TypeDeliver, payload), opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("outbound: enqueue %s: %w", d.ID, err)
	}
	return nil
}

// Jobs is the engine's background work for the worker: the delivery
// handler on its queue, the reconciler loop and the queue sampler (metrics).
func (s *Service) Jobs() jobs.Set {
	return jobs.Set{
		Handlers: map[string]asynq.Handler{TypeDeliver: asynq.HandlerFunc(s.handleDeliver),
			TypeDeliverBatch: asynq.HandlerFunc(s.handleDeliverBatch)},
		Queues: queueMap(s.queues()),
		Loops: []func(context.Context){jobs.Every(s.opts.ReconcileEvery, s.reconcileOnce),
			jobs.Every(s.opts.QueueSampleEvery, s.sampleQueue)},
	}
}

// handleDeliver runs one attempt. Outcomes of the attempt are never returned
// as errors: the delivery record schedules retries. An error here means the
// attempt could not be run or recorded (Redis unreachable); it is logged
// here, the task is then archived and the reconciler schedules it again.
func (s *Service) handleDeliver(ctx context.Context, t *asynq.Task) error {
	var p deliverPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		s.opts.Log.Error("outbound: bad delivery task payload", "err", err)
		return fmt.Errorf("outbound: bad task payload: %v: %w", err, asynq.SkipRetry)
	}
	err := s.attempt(ctx, p, nil)
	if err != nil {
		s.opts.Log.Error("outbound: delivery attempt not run; the reconciler schedules it again",
			"delivery_id", p.DeliveryID, "account_id", p.AccountID, "err", err)
	}
	return err
}

// attempt runs one attempt of the delivery p names. ev is its event when
// the caller read it already (a batch reads its event once for all its
// items: the rule that per-event work is paid once per event);
// nil reads it with the delivery.
func (s *Service) attempt(ctx context.Context, p deliverPayload, ev *eventRead) error {
	// One round trip for the delivery, the webhook, the event and the
	// in-flight leases; one more records the attempt and ends the leases.
	c := caps{account: s.opts.AccountInFlight, webhook: DefaultMaxInFlight, lease: taskID(p.DeliveryID, p.Gen)}
	var queued *redis.SliceCmd
	l, err := s.st.loadAttempt(ctx, p.AccountID, p.DeliveryID, p.WebhookID, c, func(pipe redis.Pipeliner) {
		if ev == nil {
			queued = s.deps.Events.QueueEnvelope(ctx, pipe, p.AccountID, p.EventID)
		}
	})
	if err != nil {
		return err
	}
	if ev == nil {
		ev = readEvent(s.deps.Events.EnvelopeFrom(queued))
	}
	h := &hold{acct: p.AccountID, whk: p.WebhookID, lease: c.lease, held: l.lease == 1}
	defer s.release(ctx, h)
	if len(l.delivery) == 0 {
		return nil // expired or never written: nothing to do
	}
	d := deliveryFrom(p.AccountID, l.delivery)
	if d.Status != StatusPending || d.Gen != p.Gen {
		return nil // a stale or duplicate task
	}
	now := s.now()
	trigger := p.Trigger
	switch {
	case trigger != "":
	case d.Test:
		trigger = "test"
	default:
		trigger = "schedule"
	}
	// Attempts that are never sent still get a number and a trigger in the
	// log; they say nothing about the receiver, so they are final and do
	// not count toward disabling the webhook (finish with a nil webhook).
	source := ""
	unsent := func(class, msg string) error {
		att := Attempt{Number: d.Attempts + 1, StartedAt: now, ErrorClass: class, Error: msg, Trigger: trigger}
		s.metrics.outcome(OutcomeFailed, source)
		return s.finish(ctx, d, att, nil, false, h)
	}
	if len(l.webhook) == 0 {
		return unsent("webhook_deleted", "the webhook was deleted before this attempt")
	}
	w := webhookFrom(p.AccountID, l.webhook)
	source = w.Source
	if !w.Active && !d.Test {
		reason := "the webhook is inactive"
		if w.DisabledReason != "" {
			reason = "the webhook was disabled: " + w.DisabledReason
		}
		return unsent("webhook_inactive", reason)
	}
	// Permissions are the owner's as they are now (within the owner cache's
	// second), not at fan-out: a retry, a redelivery or a test after a
	// permission was removed sends nothing.
	if may, err := s.ownerMayRead(ctx, w, d.EventType); err != nil {
		return err
	} else if !may {
		return unsent(ClassPermissionRevoked, "not sent: the webhook's owner may no longer read "+d.EventType+" events")
	}

	// One slow endpoint must not hold every worker, nor one account every
	// worker of every process: past either cap, the attempt parks without
	// using one of its tries, and the next release wakes it.
	if !h.held && l.lease == 0 {
		h.held = s.waitLocal(ctx, w, c)
	}
	if !h.held {
		switch got, err := s.park(ctx, d, c, p.Trigger, w.Source); {
		case err != nil:
			return err
		case got == -2:
			return unsent("webhook_deleted", "the webhook was deleted before this attempt")
		case got != 1:
			return nil
		}
		h.held = true
	}
	if wait, err := s.rateWait(ctx, w); err != nil {
		return err
	} else if wait > 0 {
		s.release(ctx, h)
		return s.deferFor(ctx, d, wait, p.Trigger, w.Source)
	}

	if apperr.IsCode(ev.err, apperr.CodeNotFound) {
		return unsent("event_expired", "the event is past retention")
	}
	if ev.err != nil {
		return ev.err
	}
	w, err = s.seal.open(w)
	if err != nil {
		s.opts.Log.Error("outbound: webhook secrets cannot be opened", "webhook_id", w.ID, "err", err)
		return unsent(ClassInternal, "the webhook's secrets cannot be opened with the configured keys; rotate its secret or restore the key")
	}
	if d.Attempts == 0 && trigger == "schedule" {
		s.metrics.firstAttempt.Observe(s.opts.Now().Sub(ev.event.CreatedAt).Seconds())
	}
	att, retryAfter, gone := s.send(ctx, w, d, ev.envelope, ev.event.Cause.Chain, ev.event.Cause.Hop)
	att.Trigger = trigger
	if att.ErrorClass != ClassInternal {
		s.metrics.attempt.Observe(float64(att.DurationMS) / 1000)
	}
	if gone {
		if err := s.remove(ctx, w, RemovedByReceiver); err != nil {
			return err
		}
	}
	d.Attempts++
	att.Number = d.Attempts
	ok := att.StatusCode >= 200 && att.StatusCode < 300 && att.ErrorClass == ""
	switch {
	case ok:
		s.metrics.outcome(OutcomeDelivered, w.Source)
	case gone:
		s.metrics.outcome(OutcomeGone, w.Source)
	case d.Attempts <= len(w.RetrySchedule):
		s.metrics.outcome(OutcomeRetried, w.Source)
		delay := s.jitter(w.RetrySchedule[d.Attempts-1])
		if retryAfter > delay {
			delay = retryAfter
		}
		return s.retryLater(ctx, d, att, delay, h)
	default:
		s.metrics.outcome(OutcomeFailed, w.Source)
	}
	if att.ErrorClass == ClassInternal {
		// Hookline could not build the request: nothing about the receiver.
		return s.finish(ctx, d, att, nil, false, h)
	}
	return s.finish(ctx, d, att, &w, ok, h)
}

// eventRead is an attempt's event as read: the event, its envelope as
// sent, or the error (apperr not found when past retention). Attempts
// only read it, so the items of a batch share one.
type eventRead struct {
	event    events.Event
	envelope []byte
	err      error
}

func readEvent(ev events.Event, env []byte, err error) *eventRead {
	return &eventRead{event: ev, envelope: env, err: err}
}

// Error classes of attempts whose cause is on Hookline's side or in its
// rules, not at the receiver; neither counts toward disabling a webhook.
const (
	ClassInternal          = "internal"           // the request could not be built (or its secrets opened)
	ClassPermissionRevoked = "permission_revoked" // the owner may no longer read the event; not sent
)

func (s *Service) jitter(d time.Duration) time.Duration {
	if s.opts.Jitter <= 0 {
		return d
	}
	f := 1 + s.opts.Jitter*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}

func (s *Service) retryLater(ctx context.Context, d Delivery, att Attempt, delay time.Duration, h *hold) error {
	gen := d.Gen
	d.Gen++
	d.NextAttemptAt = s.now().Add(delay)
	d.LastStatusCode, d.LastError = att.StatusCode, attemptError(att)
	raw := encodeAttempt(att, d)
	rel := s.take(h)
	ok, err := s.st.record(ctx, d, gen, raw, att.URL, s.opts.Retention, rel)
	s.released(h, rel)
	if err != nil || !ok {
		return err
	}
	return s.enqueue(ctx, d, d.NextAttemptAt, "")
}

// finish records the last attempt and the final status. w is nil for
// attempts that were never sent: those say nothing about the receiver and
// do not count toward disabling the webhook.
func (s *Service) finish(ctx context.Context, d Delivery, att Attempt, w *Webhook, ok bool, h *hold) error {
	gen := d.Gen
	d.Status = StatusFailed
	if ok {
		d.Status = StatusDelivered
	}
	d.NextAttemptAt = time.Time{}
	d.LastStatusCode, d.LastError = att.StatusCode, attemptError(att)
	raw := encodeAttempt(att, d)
	rel := s.take(h)
	stored, err := s.st.record(ctx, d, gen, raw, att.URL, s.opts.Retention, rel)
	s.released(h, rel)
	if err != nil || !stored || w == nil || d.Test {
		return err
	}
	if ok && w.ConsecutiveFailures == 0 {
		return nil // the common case: nothing to reset, no write
	}
	reason := fmt.Sprintf("its last %d deliveries all failed (last error: %s)", s.opts.DisableAfter, d.LastError)
	disabled, err := s.st.noteOutcome(ctx, d.AccountID, w.ID, ok, s.opts.DisableAfter, s.now(), reason)
	if disabled {
		s.metrics.disabled.Inc()
		s.opts.Log.Warn("outbound: webhook disabled", "webhook_id", w.ID, "account_id", d.AccountID, "reason", reason)
	}
	return err
}

func attemptError(a Attempt) string {
	if a.Error != "" {
		return a.Error
	}
	if a.StatusCode != 0 && (a.StatusCode < 200 || a.StatusCode >= 300) {
		return "HTTP " + strconv.Itoa(a.StatusCode)
	}
	return ""
}

// queueMap gives every queue the same priority.
func queueMap(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for _, n := range names {
		m[n] = 1
	}
	return m
}
