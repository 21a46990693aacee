package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
)

// Asynq v0.26 renews the lease of every running task on each heartbeat of
// its server, every 5 s, to now+30 s; neither is configurable. A lease not
// renewed for leaseStale (three heartbeats) belongs to a worker that was
// killed or cut off from Redis. Asynq itself would act only once the lease
// is 30 s expired, on a one-minute tick (60–120 s after a crash).
const (
	asynqLease = 30 * time.Second
	leaseStale = 15 * time.Second
	// recoverBatch bounds the tasks one Recover pass looks at per queue.
	recoverBatch = 500
)

// asynqLeaseKey is Asynq's ZSET of a queue's running task ids, scored by
// lease expiry (Unix seconds). It is Asynq's key, read here and never
// written: Asynq's public Inspector reports a task orphaned only once its
// lease has fully expired.
func asynqLeaseKey(queue string) string { return "asynq:{" + queue + "}:lease" }

// reconcileOnce runs Reconcile once, for the worker's loop (Jobs).
func (s *Service) reconcileOnce(ctx context.Context) {
	if n, err := s.Reconcile(ctx); err != nil {
		s.opts.Log.Warn("outbound: reconcile", "err", err)
	} else if n > 0 {
		s.opts.Log.Info("outbound: reconciled lost deliveries", "count", n)
	}
}

// RecoverOnce runs Recover once and logs what it did, for a worker loop.
func (s *Service) RecoverOnce(ctx context.Context) {
	if n, err := s.Recover(ctx); err != nil {
		s.opts.Log.Warn("outbound: recover abandoned deliveries", "err", err)
	} else if n > 0 {
		s.opts.Log.Info("outbound: resumed abandoned deliveries", "count", n)
	}
}

// Recover resumes delivery attempts that Asynq holds but nobody will finish,
// looking from Asynq's side of each delivery queue, so it needs no grace:
//   - active tasks whose lease was not renewed for 15 s: their worker died
//     (kill -9, OOM) or lost Redis;
//   - archived tasks: an attempt that could not run or be recorded (Redis
//     unreachable mid-attempt), or one Asynq's own recoverer gave up on.
//
// Each one whose delivery is still pending on the task's generation moves to
// a new generation due now, so a late finish of the old task is a no-op.
// Archived delivery tasks are deleted once handled. It returns how many
// deliveries it resumed. Any worker may run it; the generation check makes
// concurrent passes safe.
func (s *Service) Recover(ctx context.Context) (int, error) {
	n := 0
	for q := range s.Jobs().Queues {
		k, err := s.recoverStale(ctx, q)
		n += k
		if err != nil {
			return n, err
		}
		k, err = s.recoverArchived(ctx, q)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *Service) recoverStale(ctx context.Context, q string) (int, error) {
	// Asynq's leases are wall-clock Unix seconds, whatever clock Options.Now is.
	max := time.Now().Add(asynqLease - leaseStale).Unix()
	ids, err := s.st.rdb.ZRangeByScore(ctx, asynqLeaseKey(q), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(max, 10), Count: recoverBatch,
	}).Result()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		info, err := s.inspector.GetTaskInfo(q, id)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			continue // finished between the two reads
		}
		if err != nil {
			return n, err
		}
		if info.State != asynq.TaskStateActive || !isDeliveryTask(info.Type) {
			continue
		}
		k, err := s.resumeTask(ctx, info.Type, info.Payload)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *Service) recoverArchived(ctx context.Context, q string) (int, error) {
	tasks, err := s.inspector.ListArchivedTasks(q, asynq.PageSize(recoverBatch))
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tasks {
		if !isDeliveryTask(t.Type) {
			continue
		}
		k, err := s.resumeTask(ctx, t.Type, t.Payload)
		n += k
		if err != nil {
			return n, err
		}
		// Handled: the delivery record keeps the story; an archive left to
		// grow would reach Asynq's 10,000 cap and slow every pass.
		if err := s.inspector.DeleteTask(q, t.ID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return n, err
		}
	}
	return n, nil
}

// resume moves the delivery a task pointed at to a new generation due now
// and enqueues it, when the delivery is still pending on the task's
// generation. A malformed payload is nothing to resume.
func (s *Service) resume(ctx context.Context, payload []byte) (bool, error) {
	var p deliverPayload
	if json.Unmarshal(payload, &p) != nil || p.AccountID == "" || p.DeliveryID == "" {
		return false, nil
	}
	d, err := s.st.delivery(ctx, p.AccountID, p.DeliveryID)
	if apperr.IsCode(err, apperr.CodeNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if d.Status != StatusPending || d.Gen != p.Gen {
		return false, nil // finished, or already moved on
	}
	ok, err := s.st.reschedule(ctx, d, d.Gen, d.Gen+1, s.now())
	if err != nil || !ok {
		return false, err
	}
	d.Gen++
	return true, s.enqueue(ctx, d, time.Time{}, p.Trigger)
}

// Reconcile re-enqueues pending deliveries whose task vanished: lost with
// a Redis restart that lost its last writes, or never enqueued because the
// process died between recording and enqueueing. It checks only deliveries
// at least ReconcileGrace past due, and returns how many it re-enqueued.
// Tasks Asynq still holds but nobody will finish are Recover's. Events
// recorded but never fanned out are the event log's to hand on again (its
// outbox); their deliveries then join the due sets checked here.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	accts, err := s.st.accounts(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	cutoff := s.opts.Now().Add(-s.opts.ReconcileGrace)
	for _, acct := range accts {
		due, err := s.st.due(ctx, acct, cutoff, 500)
		if err != nil {
			return n, err
		}
		for _, id := range due {
			fixed, err := s.reconcileOne(ctx, acct, id)
			if err != nil {
				return n, err
			}
			if fixed {
				n++
			}
		}
	}
	return n, nil
}

func (s *Service) reconcileOne(ctx context.Context, acct, id string) (bool, error) {
	d, err := s.st.delivery(ctx, acct, id)
	if err != nil || d.Status != StatusPending {
		// Gone (expired) or finished: it no longer belongs in the due set.
		return false, s.st.dropDue(ctx, acct, id)
	}
	info, err := s.inspector.GetTaskInfo(s.queueOf(d), taskID(d.ID, d.Gen))
	if d.Gen == 1 && (errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound)) {
		// A first attempt may be an item of its event's batch task.
		info, err = s.inspector.GetTaskInfo(s.queueOf(d), batchTaskID(d.EventID))
	}
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
	case err != nil:
		return false, err
	case info.State == asynq.TaskStateActive:
		return false, nil // running, or abandoned: Recover's to judge by its lease
	case info.State == asynq.TaskStatePending, info.State == asynq.TaskStateScheduled, info.State == asynq.TaskStateRetry:
		return false, nil // still queued
	}
	// Archived, completed without recording, or missing: a new generation
	// makes any late run of the old task a no-op.
	ok, err := s.st.reschedule(ctx, d, d.Gen, d.Gen+1, s.now())
	if err != nil || !ok {
		return false, err
	}
	d.Gen++
	return true, s.enqueue(ctx, d, time.Time{}, "")
}
