package ifttt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/jobs"
)

// Task types and the queue of realtime notifications. Payloads carry ids
// only; the identities to notify wait in Redis (IFTTTPending, then a
// leased IFTTTBatch listed in IFTTTInFlight).
const (
	TypeFlush = "ifttt:flush" // send what is pending, in batches
	TypeSend  = "ifttt:send"  // retry one batch
	Queue     = "ifttt"
	maxBatch  = 1000
)

type sendPayload struct {
	BatchID string `json:"batch_id"`
}

func splitEntry(e string) (acct, identity string) {
	acct, identity, _ = strings.Cut(e, " ")
	return acct, identity
}

// topicsOf lists the identity topics an event notifies.
func topicsOf(ev events.Event) []string {
	topics := []string{TriggerNewEvent + ":" + ev.Type}
	switch ev.Type {
	case catalog.CustomerCreated:
		topics = append(topics, TriggerNewCustomer)
	case catalog.CustomerUpdated:
		topics = append(topics, TriggerUpdatedCustomer)
	}
	return topics
}

// Emit is the event log's second emitter: it finds the trigger identities
// the event would feed, keeps those whose user may read it now through a
// live connection, queues a notification for each (coalesced while one
// waits) and schedules a flush. It is idempotent per event id: an outbox
// replay of a handled event does nothing.
func (s *Service) Emit(ctx context.Context, ev events.Event) error {
	if !s.Enabled() {
		return nil
	}
	done, err := s.st.notified(ctx, ev.AccountID, ev.ID)
	if err != nil || done {
		return err
	}
	t, err := s.d.Catalog.Get(ctx, ev.AccountID, ev.Type)
	if apperr.IsCode(err, apperr.CodeNotFound) {
		return s.st.markNotified(ctx, ev.AccountID, ev.ID)
	}
	if err != nil {
		return err
	}
	var entries []string
	allowed := map[string]bool{} // by "user conn"
	for _, topic := range topicsOf(ev) {
		tids, err := s.st.topicIdentities(ctx, ev.AccountID, topic)
		if err != nil {
			return err
		}
		for _, id := range tids {
			k := id.UserID + " " + id.ConnID
			ok, seen := allowed[k]
			if !seen {
				if ok, err = s.mayNotify(ctx, ev.AccountID, id, t.Permission); err != nil {
					return err
				}
				allowed[k] = ok
			}
			if ok {
				entries = append(entries, ev.AccountID+" "+id.ID)
			}
		}
	}
	if len(entries) > 0 {
		if err := s.st.queue(ctx, entries, s.now()); err != nil {
			return err
		}
		if err := s.scheduleFlush(ctx); err != nil {
			return err
		}
	}
	return s.st.markNotified(ctx, ev.AccountID, ev.ID)
}

// mayNotify reports whether an identity's connection is live and its user
// may read events of the type now (the principal is built as for a request).
func (s *Service) mayNotify(ctx context.Context, acct string, id Identity, permission string) (bool, error) {
	c, err := s.st.connection(ctx, acct, id.ConnID)
	if apperr.IsCode(err, apperr.CodeNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !c.RevokedAt.IsZero() || c.UserID != id.UserID {
		return false, nil
	}
	p, err := s.d.Accounts.Principal(ctx, acct, id.UserID, c.Credential(), nil)
	if apperr.IsCode(err, apperr.CodeUnauthorized) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return canSubscribe(p) == nil && p.Has(permission), nil
}

// scheduleFlush enqueues one flush per window: later events in the same
// window find it queued and coalesce into it.
func (s *Service) scheduleFlush(ctx context.Context) error {
	slot := s.opts.Now().UnixNano() / int64(s.opts.NotifyWindow)
	_, err := s.d.Queue.EnqueueContext(ctx, asynq.NewTask(TypeFlush, nil), asynq.Queue(Queue),
		asynq.TaskID("ifttt-flush-"+strconv.FormatInt(slot, 10)), asynq.ProcessIn(s.opts.NotifyWindow), asynq.MaxRetry(5))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("ifttt: schedule flush: %w", err)
	}
	return nil
}

// Jobs is the realtime work: the flush and retry handlers on their queue,
// and a sweep that hands batches whose lease ended back to the pending set
// and schedules a flush when entries wait without one (an event that raced
// a running flush, or a batch of a process that died mid-send).
func (s *Service) Jobs() jobs.Set {
	if !s.Enabled() {
		return jobs.Set{}
	}
	return jobs.Set{
		Handlers: map[string]asynq.Handler{TypeFlush: asynq.HandlerFunc(s.handleFlush), TypeSend: asynq.HandlerFunc(s.handleSend)},
		Queues:   map[string]int{Queue: 1},
		Loops:    []func(context.Context){jobs.Every(10*s.opts.NotifyWindow, s.sweep)},
	}
}

func (s *Service) sweep(ctx context.Context) {
	err := s.reclaim(ctx)
	if err == nil {
		var n int64
		n, err = s.st.pendingCount(ctx)
		if err == nil && n > 0 {
			err = s.scheduleFlush(ctx)
		}
	}
	if err != nil {
		s.opts.Log.Warn("ifttt: sweep pending notifications", "err", err)
	}
}

// reclaim hands every batch whose lease ended back to the pending set: its
// process died between taking it and finishing or scheduling its retry, or
// its retry task was lost. A late send of such a batch can repeat a
// notification, which only makes IFTTT poll once more.
func (s *Service) reclaim(ctx context.Context) error {
	for {
		now := s.now()
		ids, err := s.st.expiredBatches(ctx, now, 100)
		if err != nil {
			return err
		}
		for _, id := range ids {
			n, err := s.st.returnBatch(ctx, id, now)
			if err != nil {
				return err
			}
			if n > 0 {
				s.opts.Log.Warn("ifttt: notification batch outlived its lease; identities queued again", "batch", id, "identities", n)
			}
		}
		if len(ids) < 100 {
			return nil
		}
	}
}

// handleFlush moves pending entries into batches of at most 1,000 and
// sends each; a batch that fails is retried on its own task.
func (s *Service) handleFlush(ctx context.Context, _ *asynq.Task) error {
	for {
		now := s.now()
		id := ids.New("ntf", now)
		entries, err := s.st.takeBatch(ctx, id, maxBatch, now, now.Add(s.opts.InFlightLease))
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		if err := s.deliver(ctx, id); err != nil {
			if !errors.Is(err, asynq.SkipRetry) {
				return err
			}
			s.opts.Log.Warn("ifttt: notification given up", "batch", id, "err", err)
		}
	}
}

func (s *Service) handleSend(ctx context.Context, t *asynq.Task) error {
	var p sendPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.BatchID == "" {
		return fmt.Errorf("ifttt: bad send payload: %w", asynq.SkipRetry)
	}
	return s.deliver(ctx, p.BatchID)
}

// deliver sends one batch. Success or a permanent refusal ends it; a 5xx,
// a 429 or no answer schedules the next attempt after Retry-After or the
// schedule's wait, unless that would pass GiveUpAfter since the batch was
// made: then it is given up (an error wrapping asynq.SkipRetry). The batch
// stays leased throughout (the lease covers the send, then the wait for
// the retry), so the sweep takes it back only if this process dies or the
// retry task is lost; a batch the sweep took back is not sent here.
func (s *Service) deliver(ctx context.Context, id string) error {
	live, err := s.st.lease(ctx, id, s.now().Add(s.opts.InFlightLease), -1)
	if err != nil || !live {
		return err
	}
	b, ok, err := s.st.batch(ctx, id)
	if err != nil || !ok {
		return err
	}
	entries, err := s.st.registered(ctx, b.entries)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return s.st.finishBatch(ctx, id)
	}
	status, retryAfter, sendErr := s.post(ctx, entries)
	if sendErr == nil && status >= 200 && status < 300 {
		return s.st.finishBatch(ctx, id)
	}
	why := sendErr
	if why == nil {
		why = fmt.Errorf("realtime answered %d", status)
	}
	if sendErr == nil && status != http.StatusTooManyRequests && status < 500 {
		_ = s.st.finishBatch(ctx, id)
		return fmt.Errorf("ifttt: notification refused: %v: %w", why, asynq.SkipRetry)
	}
	wait := retryAfter
	if wait <= 0 && b.attempt < len(s.opts.RetrySchedule) {
		wait = s.opts.RetrySchedule[b.attempt]
	}
	if wait <= 0 || b.attempt >= len(s.opts.RetrySchedule)+5 || s.now().Add(wait).Sub(b.created) > s.opts.GiveUpAfter {
		_ = s.st.finishBatch(ctx, id)
		return fmt.Errorf("ifttt: notification not delivered after %d attempts: %v: %w", b.attempt+1, why, asynq.SkipRetry)
	}
	// Leased until the retry is due plus its own send: if enqueuing fails or
	// the task is lost, the sweep takes the batch back after that.
	live, err = s.st.lease(ctx, id, s.now().Add(wait+s.opts.InFlightLease), b.attempt+1)
	if err != nil || !live {
		return err
	}
	payload, _ := json.Marshal(sendPayload{BatchID: id})
	_, err = s.d.Queue.EnqueueContext(ctx, asynq.NewTask(TypeSend, payload), asynq.Queue(Queue), asynq.ProcessIn(wait),
		asynq.TaskID("ifttt-send-"+id+"-"+strconv.Itoa(b.attempt+1)), asynq.MaxRetry(5))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("ifttt: schedule retry: %w", err)
	}
	return nil
}

// post sends one notification request and returns the status and the
// Retry-After it asked for.
func (s *Service) post(ctx context.Context, entries []string) (int, time.Duration, error) {
	data := make([]map[string]string, len(entries))
	for i, e := range entries {
		_, identity := splitEntry(e)
		data[i] = map[string]string{"trigger_identity": identity}
	}
	body, _ := json.Marshal(map[string]any{"data": data})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.RealtimeURL.String()+"/v1/notifications", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("IFTTT-Service-Key", s.opts.ServiceKey)
	req.Header.Set("X-Request-ID", ids.Secret(16))
	req.Header.Set("User-Agent", "Hookline/"+s.opts.Version)
	res, err := s.opts.Client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, retryAfter(res.Header.Get("Retry-After"), s.now()), nil
}

// retryAfter reads Retry-After in seconds or as an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
