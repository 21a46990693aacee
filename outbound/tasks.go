package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
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
		asynq.TaskID(taskID(d.ID, d.Gen)), asynq.Queue(s.opts.Queue), asynq.MaxRetry(0),
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
// handler on its queue, and the reconciler loop.
func (s *Service) Jobs() jobs.Set {
	return jobs.Set{
		Handlers: map[string]asynq.Handler{TypeDeliver: asynq.HandlerFunc(s.handleDeliver)},
		Queues:   map[string]int{s.opts.Queue: 1},
		Loops:    []func(context.Context){jobs.Every(s.opts.ReconcileEvery, s.reconcileOnce)},
	}
}

// handleDeliver runs one attempt. Outcomes of the attempt are never returned
// as errors: the delivery record schedules retries. An error here means the
// attempt could not be run or recorded (Redis unreachable); the task is
// then archived and the reconciler schedules it again.
func (s *Service) handleDeliver(ctx context.Context, t *asynq.Task) error {
	var p deliverPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("outbound: bad task payload: %v: %w", err, asynq.SkipRetry)
	}
	// One round trip for the delivery, the webhook and the event.
	dm, wm, ec, err := s.st.loadAttempt(ctx, p.AccountID, p.DeliveryID, p.WebhookID, func(pipe redis.Pipeliner) *redis.SliceCmd {
		return s.deps.Events.QueueEnvelope(ctx, pipe, p.AccountID, p.EventID)
	})
	if err != nil {
		return err
	}
	if len(dm) == 0 {
		return nil // expired or never written: nothing to do
	}
	d := deliveryFrom(p.AccountID, dm)
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
	// Attempts that are never sent still get a number and a trigger in the log.
	unsent := func(class, msg string) Attempt {
		return Attempt{Number: d.Attempts + 1, StartedAt: now, ErrorClass: class, Error: msg, Trigger: trigger}
	}
	if len(wm) == 0 {
		return s.finish(ctx, d, unsent("webhook_deleted", "the webhook was deleted before this attempt"), nil, false)
	}
	w := webhookFrom(p.AccountID, wm)
	if !w.Active && !d.Test {
		reason := "the webhook is inactive"
		if w.DisabledReason != "" {
			reason = "the webhook was disabled: " + w.DisabledReason
		}
		return s.finish(ctx, d, unsent("webhook_inactive", reason), nil, false)
	}

	// One slow endpoint must not hold every worker: past its cap, the
	// attempt waits without using one of its tries.
	sem := s.semaphore(w.ID)
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	default:
		return s.defer_(ctx, d, 200*time.Millisecond+time.Duration(rand.Int64N(int64(300*time.Millisecond))), p.Trigger)
	}
	if wait, err := s.rateWait(ctx, w); err != nil {
		return err
	} else if wait > 0 {
		return s.defer_(ctx, d, wait, p.Trigger)
	}

	ev, env, err := s.deps.Events.EnvelopeFrom(ec)
	if apperr.IsCode(err, apperr.CodeNotFound) {
		return s.finish(ctx, d, unsent("event_expired", "the event is past retention"), nil, false)
	}
	if err != nil {
		return err
	}
	att, retryAfter, gone := s.send(ctx, w, d, env, ev.Cause.Chain, ev.Cause.Hop)
	att.Trigger = trigger
	if gone {
		if err := s.remove(ctx, w, RemovedByReceiver); err != nil {
			return err
		}
	}
	d.Attempts++
	att.Number = d.Attempts
	ok := att.StatusCode >= 200 && att.StatusCode < 300 && att.ErrorClass == ""
	if !ok && !gone && d.Attempts <= len(w.RetrySchedule) {
		delay := s.jitter(w.RetrySchedule[d.Attempts-1])
		if retryAfter > delay {
			delay = retryAfter
		}
		return s.retryLater(ctx, d, att, delay)
	}
	return s.finish(ctx, d, att, &w, ok)
}

func (s *Service) semaphore(id string) chan struct{} {
	if v, ok := s.sems.Load(id); ok {
		return v.(chan struct{})
	}
	v, _ := s.sems.LoadOrStore(id, make(chan struct{}, s.opts.PerWebhookConcurrency))
	return v.(chan struct{})
}

// zapierHookRate paces deliveries to one hooks.zapier.com URL under
// Zapier's limit, so bursts are smoothed rather than refused.
const zapierHookRate = 30

// rateWait returns how long to wait before this webhook may send again.
// Limits are shared by all workers through Redis.
func (s *Service) rateWait(ctx context.Context, w Webhook) (time.Duration, error) {
	var wait time.Duration
	check := func(bucket string, perSecond float64) error {
		if perSecond <= 0 {
			return nil
		}
		limit := redis_rate.PerSecond(int(perSecond + 0.5))
		if perSecond < 1 {
			limit = redis_rate.PerMinute(int(perSecond*60 + 0.5))
		}
		res, err := s.limiter.Allow(ctx, s.st.keys.RateLimit(w.AccountID, bucket), limit)
		if err != nil {
			return fmt.Errorf("outbound: rate limit: %w", err)
		}
		if res.Allowed == 0 && res.RetryAfter > wait {
			wait = res.RetryAfter
		}
		return nil
	}
	if err := check("whk:"+w.ID, w.RateLimit); err != nil {
		return 0, err
	}
	// The substring test keeps URL parsing off the hot path for other targets.
	if !strings.Contains(strings.ToLower(w.URL), "hooks.zapier.com") {
		return wait, nil
	}
	if u, err := url.Parse(w.URL); err == nil && strings.EqualFold(u.Hostname(), "hooks.zapier.com") {
		if err := check("zap:"+u.Path, zapierHookRate); err != nil {
			return 0, err
		}
	}
	return wait, nil
}

// defer_ moves the delivery to a new generation due after wait, without
// using one of its tries.
func (s *Service) defer_(ctx context.Context, d Delivery, wait time.Duration, trigger string) error {
	next := s.now().Add(wait)
	ok, err := s.st.reschedule(ctx, d.AccountID, d.ID, d.Gen, d.Gen+1, next)
	if err != nil || !ok {
		return err
	}
	d.Gen++
	return s.enqueue(ctx, d, next, trigger)
}

func (s *Service) jitter(d time.Duration) time.Duration {
	if s.opts.Jitter <= 0 {
		return d
	}
	f := 1 + s.opts.Jitter*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}

func (s *Service) retryLater(ctx context.Context, d Delivery, att Attempt, delay time.Duration) error {
	gen := d.Gen
	d.Gen++
	d.NextAttemptAt = s.now().Add(delay)
	d.LastStatusCode, d.LastError = att.StatusCode, attemptError(att)
	raw, _ := json.Marshal(att)
	ok, err := s.st.record(ctx, d, gen, raw, s.opts.Retention)
	if err != nil || !ok {
		return err
	}
	return s.enqueue(ctx, d, d.NextAttemptAt, "")
}

// finish records the last attempt and the final status. w is nil for
// attempts that were never sent: those say nothing about the receiver and
// do not count toward disabling the webhook.
func (s *Service) finish(ctx context.Context, d Delivery, att Attempt, w *Webhook, ok bool) error {
	gen := d.Gen
	d.Status = StatusFailed
	if ok {
		d.Status = StatusDelivered
	}
	d.NextAttemptAt = time.Time{}
	d.LastStatusCode, d.LastError = att.StatusCode, attemptError(att)
	raw, _ := json.Marshal(att)
	stored, err := s.st.record(ctx, d, gen, raw, s.opts.Retention)
	if err != nil || !stored || w == nil || d.Test {
		return err
	}
	if ok && w.ConsecutiveFailures == 0 {
		return nil // the common case: nothing to reset, no write
	}
	reason := fmt.Sprintf("its last %d deliveries all failed (last error: %s)", s.opts.DisableAfter, d.LastError)
	disabled, err := s.st.noteOutcome(ctx, d.AccountID, w.ID, ok, s.opts.DisableAfter, s.now(), reason)
	if disabled {
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
