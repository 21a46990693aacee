package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookline/hookline/app/apperr"
)

// TypeDeliverBatch is the Asynq task that runs the first attempts of one
// event's deliveries. Asynq has no batch enqueue and a task costs a
// dequeue, a done and an enqueue in Redis: one task per event instead of
// one per webhook makes a fan-out to 20 webhooks cost 3 of those round
// trips instead of 60. Every item is still its own delivery, with its own
// record, generation, leases and attempt log; a retry, a deferral, a
// redelivery or a recovery goes out as a single TypeDeliver task.
const TypeDeliverBatch = "outbound:deliver-batch"

type batchPayload struct {
	AccountID string      `json:"a"`
	EventID   string      `json:"e"`
	Items     []batchItem `json:"i"`
}

type batchItem struct {
	DeliveryID string `json:"d"`
	WebhookID  string `json:"w"`
	Gen        int    `json:"g"`
}

// batchTaskID is the one batch task of an event: the reconciler finds a
// first-generation delivery's task by its event alone.
func batchTaskID(eventID string) string { return eventID + "-first" }

func (b batchPayload) item(i int) deliverPayload {
	it := b.Items[i]
	return deliverPayload{AccountID: b.AccountID, DeliveryID: it.DeliveryID, WebhookID: it.WebhookID, EventID: b.EventID, Gen: it.Gen}
}

// enqueueFirst queues the first attempts of one event's new deliveries:
// one batch task, or a single task when there is one delivery.
func (s *Service) enqueueFirst(ctx context.Context, ds []Delivery) error {
	switch len(ds) {
	case 0:
		return nil
	case 1:
		return s.enqueue(ctx, ds[0], time.Time{}, "")
	}
	b := batchPayload{AccountID: ds[0].AccountID, EventID: ds[0].EventID, Items: make([]batchItem, len(ds))}
	for i, d := range ds {
		b.Items[i] = batchItem{DeliveryID: d.ID, WebhookID: d.WebhookID, Gen: d.Gen}
	}
	payload, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("outbound: encode batch task: %w", err)
	}
	_, err = s.q.EnqueueContext(ctx, asynq.NewTask(TypeDeliverBatch, payload),
		asynq.TaskID(batchTaskID(b.EventID)), asynq.Queue(s.queueOf(ds[0])), asynq.MaxRetry(0),
		asynq.Timeout(2*time.Minute))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		// The event's batch is still queued and these deliveries are new
		// (the event was handed on again and found new subscribers): they
		// go one by one.
		return s.enqueueEach(ctx, ds)
	}
	if err != nil {
		return fmt.Errorf("outbound: enqueue batch of %s: %w", b.EventID, err)
	}
	return nil
}

func (s *Service) enqueueEach(ctx context.Context, ds []Delivery) error {
	var errs []error
	for _, d := range ds {
		if err := s.enqueue(ctx, d, time.Time{}, ""); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// handleDeliverBatch runs every item's attempt concurrently, at most the
// account's in-flight cap of them at once per process (accountGate, gate.go):
// the per-webhook and per-account leases bound how many are really sent
// together across processes (the rest wait briefly or park as single
// tasks), and a slow receiver holds only its own item. The task's 2-minute
// timeout bounds it: an event to many slow webhooks of one account (items
// queued behind the gate, 30 s each) can reach it, and then the items still
// waiting fail the task, which Recover turns into single tasks; an item
// cut off mid-request logs a failed attempt and is retried on schedule. An item that could not be run or recorded fails the task,
// which Asynq archives; Recover then resumes the items still pending on
// their generation, and only those.
func (s *Service) handleDeliverBatch(ctx context.Context, t *asynq.Task) error {
	var b batchPayload
	if err := json.Unmarshal(t.Payload(), &b); err != nil {
		s.opts.Log.Error("outbound: bad delivery batch payload", "err", err)
		return fmt.Errorf("outbound: bad batch payload: %v: %w", err, asynq.SkipRetry)
	}
	// The event once for every item, not once per item.
	ev := readEvent(s.deps.Events.Envelope(ctx, b.AccountID, b.EventID))
	if ev.err != nil && !apperr.IsCode(ev.err, apperr.CodeNotFound) {
		return ev.err // Redis is away: failed, archived, and resumed by Recover
	}
	errs := make([]error, len(b.Items))
	var wg sync.WaitGroup
	for i := range b.Items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pass, err := s.batchGate.enter(ctx, b.AccountID, s.opts.AccountInFlight)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.batchGate.exit(pass)
			errs[i] = s.attempt(withPass(ctx, pass), b.item(i), ev)
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err != nil {
		s.opts.Log.Error("outbound: delivery attempts of a batch not run; they are resumed",
			"event_id", b.EventID, "account_id", b.AccountID, "err", err)
	}
	return err
}

// resumeTask resumes what an abandoned or archived task of either delivery
// type still owes (resume), and returns how many deliveries moved on.
func (s *Service) resumeTask(ctx context.Context, typ string, payload []byte) (int, error) {
	if typ == TypeDeliver {
		ok, err := s.resume(ctx, payload)
		if ok {
			return 1, err
		}
		return 0, err
	}
	var b batchPayload
	if json.Unmarshal(payload, &b) != nil {
		return 0, nil
	}
	n := 0
	for i := range b.Items {
		raw, _ := json.Marshal(b.item(i))
		ok, err := s.resume(ctx, raw)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// isDeliveryTask says whether a task is one of the engine's delivery tasks.
func isDeliveryTask(typ string) bool { return typ == TypeDeliver || typ == TypeDeliverBatch }
