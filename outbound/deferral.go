package outbound

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hibiken/asynq"
)

// Parked attempts' fallback: a parked attempt is also scheduled, so a lost
// wake-up (a worker killed between release and wake) delays it, never loses
// it. The wait grows with the attempts parked ahead of it, so a deep backlog
// is not re-run in vain by its fallbacks while wake-ups drain it.
const (
	parkFallback    = 2 * time.Second
	parkPerAhead    = 50 * time.Millisecond
	parkFallbackMax = time.Minute
)

// hold is an attempt's in-flight leases: held until recorded (record ends
// them in the same round trip) or released on any other way out.
type hold struct {
	acct, whk, lease string
	held             bool
}

// take hands the release to a record pipeline: nil when nothing is held.
func (s *Service) take(h *hold) *scriptCall {
	if !h.held {
		return nil
	}
	h.held = false
	return s.st.releaseCall(h.acct, h.whk, h.lease, !s.waiting.any(h.whk))
}

// released wakes what a recorded release took, or keeps the leases held
// (for release) when the record's round trip failed.
func (s *Service) released(h *hold, c *scriptCall) {
	if c == nil {
		return
	}
	if c.cmd == nil || c.cmd.Err() != nil {
		h.held = true
		return
	}
	s.wake(h, woken(c))
}

// release ends the leases of an attempt that was not recorded (stale,
// deferred by a rate limit, or Redis failed). The attempt's context may be
// done (shutdown); the leases still go back, or expire on their own.
func (s *Service) release(ctx context.Context, h *hold) {
	if !h.held {
		return
	}
	h.held = false
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	ids, err := s.st.release(rctx, h.acct, h.whk, h.lease, !s.waiting.any(h.whk))
	if err != nil {
		s.opts.Log.Warn("outbound: release in-flight leases; they expire on their own", "account_id", h.acct, "err", err)
		return
	}
	s.wake(h, ids)
}

// wake moves parked attempts' scheduled tasks to the queue now. A task that
// already ran (its fallback fired) or is running is skipped for the next
// one parked, so stale entries do not swallow wake-ups; one not found is
// tried once more a moment later, in case its enqueue is still under way.
func (s *Service) wake(h *hold, ids []string) {
	s.waiting.signal(h.whk)
	if len(ids) == 0 {
		return
	}
	queue := s.queueOf(Delivery{AccountID: h.acct})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, id := range ids {
			for range 10 {
				err := s.inspector.RunTask(queue, id)
				if errors.Is(err, asynq.ErrTaskNotFound) {
					time.Sleep(5 * time.Millisecond)
					err = s.inspector.RunTask(queue, id)
				}
				if err == nil {
					break
				}
				// Stale: take the next one parked in the same list.
				next, perr := s.st.popParked(ctx, h.acct, h.whk)
				if perr != nil || next == "" {
					break
				}
				id = next
			}
		}
	}()
}

// deferFor moves d to a new generation due after wait (a rate limit), without
// using one of its tries. Asynq schedules in whole seconds behind a
// forwarder that ticks every second, so a short wait is kept by this
// process's timer instead, and the scheduled task is the fallback.
func (s *Service) deferFor(ctx context.Context, d Delivery, wait time.Duration, trigger, source string) error {
	next := s.now().Add(wait)
	ok, err := s.st.reschedule(ctx, d, d.Gen, d.Gen+1, next)
	if err != nil || !ok {
		return err
	}
	s.metrics.outcome(OutcomeDeferred, source)
	d.Gen++
	if err := s.enqueue(ctx, d, next, trigger); err != nil {
		return err
	}
	if wait < 10*time.Second {
		id, queue := taskID(d.ID, d.Gen), s.queueOf(d)
		time.AfterFunc(wait, func() { _ = s.inspector.RunTask(queue, id) })
	}
	return nil
}

// park holds d back until its webhook's or account's in-flight cap frees a
// lease (parkScript): woken by a release, or by its scheduled fallback. It
// returns 1 when the leases were free after all (the attempt goes on), 0
// when parked, -2 when the webhook is gone, -3 when the delivery moved on.
func (s *Service) park(ctx context.Context, d Delivery, c caps, trigger, source string) (int, error) {
	got, wait, err := s.st.park(ctx, d, c, s.now())
	if err != nil || (got != 0 && got != -1) {
		return got, err
	}
	s.metrics.outcome(OutcomeDeferred, source)
	d.Gen++
	return 0, s.enqueue(ctx, d, s.now().Add(wait), trigger)
}

// An attempt that finds its webhook at the cap first waits in this process
// for up to localWait, woken by this process's releases at once and
// checking Redis every localPoll for other processes' releases: a backlog
// then keeps its webhook's leases busy without a round through the queue.
// At most max_in_flight attempts per webhook wait so in each process, so a
// slow webhook holds at most twice its cap of this process's workers; the
// rest park.
const (
	localWait = 250 * time.Millisecond
	localPoll = 20 * time.Millisecond
)

// waiters are the attempts waiting in this process, per webhook. An entry
// lives only while some attempt waits, so the map is bounded by the workers.
type waiters struct {
	mu sync.Mutex
	n  map[string]int
	ch map[string]chan struct{}
}

func (w *waiters) enter(id string, max int) (chan struct{}, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == nil {
		w.n, w.ch = map[string]int{}, map[string]chan struct{}{}
	}
	if w.n[id] >= max {
		return nil, false
	}
	w.n[id]++
	if w.ch[id] == nil {
		w.ch[id] = make(chan struct{}, 1)
	}
	return w.ch[id], true
}

func (w *waiters) leave(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n[id]--; w.n[id] <= 0 {
		delete(w.n, id)
		delete(w.ch, id)
	}
}

func (w *waiters) any(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n[id] > 0
}

func (w *waiters) signal(id string) {
	w.mu.Lock()
	ch := w.ch[id]
	w.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// waitLocal waits for a lease of w in this process (see localWait); true
// when it took one.
func (s *Service) waitLocal(ctx context.Context, w Webhook, c caps) bool {
	ch, ok := s.waiting.enter(w.ID, w.MaxInFlight)
	if !ok {
		return false
	}
	defer s.waiting.leave(w.ID)
	if p := passFrom(ctx); p != nil {
		// A batch item waits for its webhook outside its account's gate.
		p.pause()
		defer func() { _ = p.resume(ctx) }()
	}
	deadline := time.NewTimer(localWait)
	defer deadline.Stop()
	tick := time.NewTicker(localPoll)
	defer tick.Stop()
	for {
		select {
		case <-ch:
		case <-tick.C:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
		switch got, err := s.st.acquire(ctx, w.AccountID, w.ID, c); {
		case err != nil || got < 0:
			return false // the account is at its cap, or the webhook is gone: park
		case got == 1:
			return true
		}
	}
}
