package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// report is one run's figures and the ids that broke the promise.
type report struct {
	scenario, topology, fsync string
	replicas                  string // the min-replicas note of a sentinel run
	rate                      int
	duration, published       time.Duration
	stopped                   time.Time // publishing stopped
	faults                    []time.Time
	failovers                 []failover
	memStart, memMid, memEnd  mem
	cpu                       cpu // over the CPU window (soak: publishing start to all received)
	cpuAttempts               int // receiver requests in that window
	readyz                    readyzFigures
	nodes                     []nodeFigures
	burst                     *burstFigures

	accepted, deliveries, delivered, failed int
	publishErrors                           map[string]int
	receiverRequests                        map[string]int
	drain                                   time.Duration
	acks, dupCrash, dupOther                int
	lostInWindow, lostToReplication         []string

	pub     *publisher
	broken_ map[string][]string // what broke → ids
}

// failover is one fault of the failover scenario: the master killed, the
// replica promoted, the old master a replica again with its link up.
type failover struct{ killed, promoted, attached time.Time }

// lostEvent is the class of an accepted event that is gone from Redis.
const lostEvent = "accepted (202) but lost"

func (r *report) fail(what, id string) {
	if r.broken_ == nil {
		r.broken_ = map[string][]string{}
	}
	r.broken_[what] = append(r.broken_[what], id)
}

func (r *report) broken() bool { return len(r.broken_) > 0 }

// inCrashWindow says whether t lies where a fault may cause a duplicate:
// from 35 s before a fault (an attempt in flight, its timeout included)
// to 45 s after it (the abandoned attempt resumed).
func (r *report) inCrashWindow(t time.Time) bool {
	for _, f := range r.faults {
		if t.After(f.Add(-35*time.Second)) && t.Before(f.Add(45*time.Second)) {
			return true
		}
	}
	return false
}

// check waits for the deliveries to settle, then holds the record of the
// receiver and Hookline's API against the promise.
func (r *report) check(ctx context.Context, a *api, recv *receiver, hooks map[string][]string, fault string) error {
	acc := r.pub.accepted // the publisher is done: its record is final
	r.accepted = len(acc)
	live := []string{"/main"}
	if _, ok := hooks["/throttle"]; ok {
		live = append(live, "/throttle")
	}
	// Settle: every accepted event fanned out and every delivery final, or
	// the longest schedule (38 s of waits, six 2 s attempts) plus the
	// reconciler's and the outbox drain's bounds past. An event a crash
	// left in the outbox has no delivery yet: it is waited for, not judged.
	// An event Redis lost (GET answers 404) will never fan out: it is not
	// waited for, so losing one does not hold the settle to its bound.
	start := time.Now()
	gone := map[string]bool{}
	var byHook map[string]map[string]delivery
	for {
		byHook = map[string]map[string]delivery{}
		pending := 0
		for _, p := range live {
			m := map[string]delivery{}
			for _, whk := range hooks[p] {
				ds, err := a.deliveries(whk)
				if err != nil {
					return err
				}
				for _, d := range ds {
					m[d.EventID] = d
					if d.Status == "pending" {
						pending++
					}
				}
			}
			byHook[p] = m
		}
		unfanned := 0
		for _, p := range live {
			for _, e := range acc {
				if _, ok := byHook[p][e.id]; !ok && !gone[e.id] && !r.eventGone(a, e.id, gone) {
					unfanned++
				}
			}
		}
		if (pending == 0 && unfanned == 0) || time.Since(start) > 3*time.Minute {
			break
		}
		time.Sleep(3 * time.Second)
	}
	r.drain = time.Since(r.stopped)
	now := time.Now()
	var details []delivery
	for _, p := range live {
		for _, e := range acc {
			d, ok := byHook[p][e.id]
			if !ok {
				r.missing(a, p, e, fault)
				continue
			}
			r.deliveries++
			switch d.Status {
			case "delivered":
				r.delivered++
			case "failed":
				r.failed++
			default:
				if d.NextAttemptAt != nil && d.NextAttemptAt.Before(now.Add(-30*time.Second)) {
					r.fail("pending past its schedule (>30 s)", d.ID)
				} else {
					r.fail("not final after the drain", d.ID)
				}
			}
			// Every failed or retried delivery's log is read in full, and
			// one in 50 of the rest.
			if d.Status == "failed" || d.Attempts > 1 || e.seq%50 == 0 {
				details = append(details, d)
			}
		}
	}
	r.checkLogs(a, details)
	r.checkReceiver(recv, byHook)
	return nil
}

// eventGone says whether Hookline answers 404 for the event, and
// remembers it in gone.
func (r *report) eventGone(a *api, id string, gone map[string]bool) bool {
	st, _, err := a.do("GET", "/v1/events/"+id, nil, nil)
	gone[id] = err == nil && st == 404
	return gone[id]
}

// missing judges an accepted event without a delivery: lost with Redis
// within the promise (an AOF everysec restart within a second of its
// acceptance, a failover's unreplicated writes), lost outside it, or never
// fanned out.
func (r *report) missing(a *api, hook string, e accepted, fault string) {
	st, _, err := a.do("GET", "/v1/events/"+e.id, nil, nil)
	gone := err == nil && st == 404
	switch {
	case gone && fault == "redis" && r.fsync == "everysec" && r.nearFault(e.at, 1500*time.Millisecond):
		if hook == "/main" {
			r.lostInWindow = append(r.lostInWindow, e.id)
		}
	case gone && fault == "failover" && r.inReplicationWindow(e.at):
		if hook == "/main" {
			r.lostToReplication = append(r.lostToReplication, e.id)
		}
	case gone:
		r.fail(lostEvent, e.id)
	default:
		r.fail("accepted but never fanned out to "+hook, e.id)
	}
}

// inReplicationWindow says whether an event accepted at t may have been
// lost to asynchronous replication: from 2 s before a master was killed
// (writes the replica had not received; min-replicas-max-lag allows 1 s of
// lag, and the 202 reaches the publisher after the write) to 1 s after the
// old master was a replica again (a client still writing to it when it came
// back as a master loses those writes at its resync).
func (r *report) inReplicationWindow(t time.Time) bool {
	for _, f := range r.failovers {
		if t.After(f.killed.Add(-2*time.Second)) && t.Before(f.attached.Add(time.Second)) {
			return true
		}
	}
	return false
}

func (r *report) nearFault(t time.Time, window time.Duration) bool {
	for _, f := range r.faults {
		if !t.After(f) && f.Sub(t) <= window {
			return true
		}
	}
	return false
}

// checkLogs reads deliveries in full: the attempt log holds one entry per
// attempt, numbered from 1.
func (r *report) checkLogs(a *api, ds []delivery) {
	var mu sync.Mutex
	work := make(chan delivery)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				var full delivery
				if err := a.must("GET", "/v1/deliveries/"+d.ID, nil, 200, &full); err != nil {
					mu.Lock()
					r.fail("delivery unreadable", d.ID)
					mu.Unlock()
					continue
				}
				ok := len(full.AttemptLog) == full.Attempts && full.Attempts > 0
				for i, at := range full.AttemptLog {
					ok = ok && at.Number == i+1
				}
				if !ok {
					mu.Lock()
					r.fail("incomplete attempt log", d.ID)
					mu.Unlock()
				}
			}
		}()
	}
	for _, d := range ds {
		work <- d
	}
	close(work)
	wg.Wait()
}

// checkReceiver compares the receiver's record with Hookline's: every
// delivered delivery was acknowledged, duplicates are counted, and no
// publish became two events.
func (r *report) checkReceiver(recv *receiver, byHook map[string]map[string]delivery) {
	acks, seqs, reqs := recv.snapshot()
	r.receiverRequests = reqs
	for p, m := range byHook {
		for id, d := range m {
			if d.Status == "delivered" && len(acks[p+" "+id]) == 0 {
				r.fail("delivered, but the receiver never answered 2xx", d.ID)
			}
		}
	}
	for k, as := range acks {
		if !strings.HasPrefix(k, "/main ") && !strings.HasPrefix(k, "/throttle ") || strings.HasSuffix(k, " ") {
			continue
		}
		r.acks++
		if len(as) > 1 {
			if r.inCrashWindow(as[0].at) {
				r.dupCrash++
			} else {
				r.dupOther++
				if r.dupOther <= 20 {
					r.fail("duplicate outside a crash window (listed up to 20)", k)
				}
			}
		}
	}
	if r.acks > 0 && float64(r.dupOther)/float64(r.acks) <= 0.001 {
		delete(r.broken_, "duplicate outside a crash window (listed up to 20)")
	}
	for seq, ids := range seqs {
		if len(ids) > 1 {
			r.fail("one publish became two events", fmt.Sprint(seq))
		}
	}
}
