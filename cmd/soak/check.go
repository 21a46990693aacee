package main

import (
	"context"
	"fmt"
	"sort"
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

	shards int           // HOOKLINE_QUEUE_SHARDS of the run
	accts  []acctFigures // per account, in the publisher's order

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
// receiver and Hookline's API against the promise, account by account:
// each account's events against its own webhooks, read with its own key.
func (r *report) check(ctx context.Context, ts []*tenant, recv *receiver, fault string) error {
	acc := r.pub.accepted // the publisher is done: its record is final
	r.accepted = len(acc)
	// During an outage a write answers 503 unavailable (or 409 while an
	// earlier try holds its key), never a generic 500 a client cannot act on.
	if n := r.pub.errors["500"]; n > 0 {
		r.fail("a publish answered 500 (want 503 unavailable during faults)", fmt.Sprintf("%d answers", n))
	}
	if len(r.accts) != len(ts) {
		r.accts = make([]acctFigures, len(ts))
	}
	byAcct := make([][]accepted, len(ts))
	for _, e := range acc {
		byAcct[e.acct] = append(byAcct[e.acct], e)
		r.accts[e.acct].accepted++
	}
	live := []string{"/main"}
	if _, ok := ts[0].hooks["/throttle"]; ok {
		live = append(live, "/throttle")
	}
	n := len(ts)
	// Settle: every accepted event fanned out and every delivery final, or
	// the longest schedule (38 s of waits, six 2 s attempts) plus the
	// reconciler's and the outbox drain's bounds past. An event a crash
	// left in the outbox has no delivery yet: it is waited for, not judged.
	// An event Redis lost (GET answers 404) will never fan out: it is not
	// waited for, so losing one does not hold the settle to its bound.
	start := time.Now()
	gone := map[string]bool{}
	var byHook map[string]map[string]delivery // receiver path (account's) → event id → delivery
	for {
		byHook = map[string]map[string]delivery{}
		pending, unfanned := 0, 0
		for _, t := range ts {
			for _, p := range live {
				m := map[string]delivery{}
				for _, whk := range t.hooks[p] {
					ds, err := t.api.deliveries(whk)
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
				byHook[acctPath(t.idx, n, p)] = m
				for _, e := range byAcct[t.idx] {
					if _, ok := m[e.id]; !ok && !gone[e.id] && !r.eventGone(t.api, e.id, gone) {
						unfanned++
					}
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
	for _, t := range ts {
		var details []delivery
		f := &r.accts[t.idx]
		if len(byAcct[t.idx]) == 0 && n > 1 && r.accepted >= n {
			r.failIn(t.idx, "an account had no accepted event (the publisher's round-robin)", t.id)
		}
		for _, p := range live {
			for _, e := range byAcct[t.idx] {
				d, ok := byHook[acctPath(t.idx, n, p)][e.id]
				if !ok {
					r.missing(t, p, e, fault)
					continue
				}
				r.deliveries++
				f.deliveries++
				switch d.Status {
				case "delivered":
					r.delivered++
					f.delivered++
				case "failed":
					r.failed++
					f.failed++
				default:
					if d.NextAttemptAt != nil && d.NextAttemptAt.Before(now.Add(-30*time.Second)) {
						r.failIn(t.idx, "pending past its schedule (>30 s)", d.ID)
					} else {
						r.failIn(t.idx, "not final after the drain", d.ID)
					}
				}
				// Every failed or retried delivery's log is read in full, and
				// one in 50 of the rest.
				if d.Status == "failed" || d.Attempts > 1 || e.seq%50 == 0 {
					details = append(details, d)
				}
			}
		}
		r.checkLogs(t, details)
	}
	r.checkReceiver(recv, byHook, acc)
	return nil
}

// failIn records a broken promise of account i.
func (r *report) failIn(i int, what, id string) {
	r.fail(what, id)
	if i >= 0 && i < len(r.accts) {
		r.accts[i].broken++
	}
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
func (r *report) missing(t *tenant, hook string, e accepted, fault string) {
	st, _, err := t.api.do("GET", "/v1/events/"+e.id, nil, nil)
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
		r.failIn(t.idx, lostEvent, e.id)
	default:
		r.failIn(t.idx, "accepted but never fanned out to "+hook, e.id)
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
func (r *report) checkLogs(t *tenant, ds []delivery) {
	var mu sync.Mutex
	work := make(chan delivery)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				var full delivery
				if err := t.api.must("GET", "/v1/deliveries/"+d.ID, nil, 200, &full); err != nil {
					mu.Lock()
					r.failIn(t.idx, "delivery unreadable", d.ID)
					mu.Unlock()
					continue
				}
				ok := len(full.AttemptLog) == full.Attempts && full.Attempts > 0
				for i, at := range full.AttemptLog {
					ok = ok && at.Number == i+1
				}
				if !ok {
					mu.Lock()
					r.failIn(t.idx, "incomplete attempt log", d.ID)
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

// dupClass is the class of duplicates past 0.1 % outside crash windows.
const dupClass = "duplicate outside a crash window (listed up to 20)"

// checkReceiver compares the receiver's record with Hookline's: every
// delivered delivery was acknowledged on its own account's path,
// duplicates are counted (within 0.1 % outside crash windows per account
// and in total), and no publish became two events.
func (r *report) checkReceiver(recv *receiver, byHook map[string]map[string]delivery, acc []accepted) {
	acks, seqs, reqs := recv.snapshot()
	r.receiverRequests = map[string]int{} // totals over the accounts, by base path
	for p, v := range reqs {
		r.receiverRequests[basePath(p)] += v
	}
	owner := make(map[string]int, len(acc)) // event id → account
	for _, e := range acc {
		owner[e.id] = e.acct
	}
	for p, m := range byHook {
		i, _ := splitPath(p)
		for id, d := range m {
			if d.Status == "delivered" && len(acks[p+" "+id]) == 0 {
				r.failIn(i, "delivered, but the receiver never answered 2xx", d.ID)
			}
		}
	}
	var dups []string
	for k, as := range acks {
		p, id, _ := strings.Cut(k, " ")
		i, base := splitPath(p)
		if base != "/main" && base != "/throttle" || id == "" || i >= len(r.accts) {
			continue
		}
		f := &r.accts[i]
		if o, ok := owner[id]; ok && o != i {
			r.failIn(i, "delivered to another account's webhook", k)
		}
		r.acks++
		f.acks++
		if len(as) > 1 {
			if r.inCrashWindow(as[0].at) {
				r.dupCrash++
				f.dupCrash++
			} else {
				r.dupOther++
				f.dupOther++
				dups = append(dups, k)
			}
		}
	}
	over := func(d, n int) bool { return d > 0 && (n == 0 || float64(d)/float64(n) > 0.001) }
	broke := over(r.dupOther, r.acks)
	for i := range r.accts {
		if over(r.accts[i].dupOther, r.accts[i].acks) {
			broke = true
			r.accts[i].broken += r.accts[i].dupOther
		}
	}
	if broke {
		sort.Strings(dups)
		for _, k := range head(dups) {
			r.fail(dupClass, k)
		}
	}
	for seq, ids := range seqs {
		if len(ids) > 1 {
			r.failIn(r.pub.acctOf(seq), "one publish became two events", fmt.Sprint(seq))
		}
	}
}
