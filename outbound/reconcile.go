package outbound

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"
)

// reconcileOnce runs Reconcile once, for the worker's loop (Jobs).
func (s *Service) reconcileOnce(ctx context.Context) {
	if n, err := s.Reconcile(ctx); err != nil {
		s.opts.Log.Warn("outbound: reconcile", "err", err)
	} else if n > 0 {
		s.opts.Log.Info("outbound: reconciled lost deliveries", "count", n)
	}
}

// Reconcile re-enqueues pending deliveries whose task vanished: lost with
// a Redis restart, archived after an infrastructure error, or orphaned by a
// worker that died mid-attempt. It checks only deliveries at least
// ReconcileGrace past due, and returns how many it re-enqueued. Events
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
	info, err := s.inspector.GetTaskInfo(s.opts.Queue, taskID(d.ID, d.Gen))
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
	case err != nil:
		return false, err
	case info.State == asynq.TaskStateActive && !info.IsOrphaned:
		return false, nil // running now
	case info.State == asynq.TaskStatePending, info.State == asynq.TaskStateScheduled, info.State == asynq.TaskStateRetry:
		return false, nil // still queued
	}
	// Archived, completed without recording, orphaned, or missing: a new
	// generation makes any late run of the old task a no-op.
	next := s.now()
	ok, err := s.st.reschedule(ctx, acct, d.ID, d.Gen, d.Gen+1, next)
	if err != nil || !ok {
		return false, err
	}
	d.Gen++
	return true, s.enqueue(ctx, d, time.Time{}, "")
}
