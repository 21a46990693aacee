package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// report is one run's figures and the ids that broke the promise.
type report struct {
	scenario, fsync string
	rate            int
	duration        time.Duration
	published       time.Duration
	faults          []time.Time
	memMid, memEnd  mem

	accepted, deliveries, delivered, failed int
	publishErrors                           map[string]int
	receiverRequests                        map[string]int
	drain                                   time.Duration
	acks, dupCrash, dupOther                int
	lostInWindow                            []string

	pub     *publisher
	broken_ map[string][]string // what broke → ids
}

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
	start := time.Now()
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
				if _, ok := byHook[p][e.id]; !ok {
					unfanned++
				}
			}
		}
		if (pending == 0 && unfanned == 0) || time.Since(start) > 3*time.Minute {
			break
		}
		time.Sleep(3 * time.Second)
	}
	r.drain = time.Since(start)
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

// missing judges an accepted event without a delivery: lost with Redis
// (an AOF everysec restart within a second of its acceptance is within the
// promise), or never fanned out.
func (r *report) missing(a *api, hook string, e accepted, fault string) {
	st, _, err := a.do("GET", "/v1/events/"+e.id, nil, nil)
	switch {
	case err == nil && st == 404 && fault == "redis" && r.fsync == "everysec" && r.nearFault(e.at, 1500*time.Millisecond):
		if hook == "/main" {
			r.lostInWindow = append(r.lostInWindow, e.id)
		}
	case err == nil && st == 404:
		r.fail("accepted (202) but lost", e.id)
	default:
		r.fail("accepted but never fanned out to "+hook, e.id)
	}
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

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "published %d events in %s (%.0f/s), %d faults; publish answers before a 202: %v\n",
		r.accepted, r.published.Round(time.Second), float64(r.accepted)/r.published.Seconds(), len(r.faults), r.pub.errors)
	fmt.Fprintf(w, "deliveries %d: delivered %d, failed %d; settled %s after publishing stopped\n",
		r.deliveries, r.delivered, r.failed, r.drain.Round(time.Second))
	fmt.Fprintf(w, "receiver: requests %v; acknowledged %d, duplicates %d in crash windows, %d outside (%.3f %%)\n",
		r.receiverRequests, r.acks, r.dupCrash, r.dupOther, 100*float64(r.dupOther)/float64(max(1, r.acks)))
	if len(r.lostInWindow) > 0 {
		fmt.Fprintf(w, "lost within AOF everysec's one-second window: %d %v\n", len(r.lostInWindow), head(r.lostInWindow))
	}
	fmt.Fprintf(w, "memory mid→end: redis %.1f→%.1f MB (%.0f B per delivery), api RSS %d→%d MB, workers RSS %d→%d MB\n",
		float64(r.memMid.redis)/1e6, float64(r.memEnd.redis)/1e6, float64(r.memEnd.redis)/float64(max(1, r.deliveries)),
		r.memMid.apiKB/1024, r.memEnd.apiKB/1024, r.memMid.workersKB/1024, r.memEnd.workersKB/1024)
	if len(r.pub.gaveUp) > 0 {
		fmt.Fprintf(w, "publishes never accepted within 2 min: %d\n", len(r.pub.gaveUp))
	}
	whats := make([]string, 0, len(r.broken_))
	for k := range r.broken_ {
		whats = append(whats, k)
	}
	sort.Strings(whats)
	for _, k := range whats {
		fmt.Fprintf(w, "BROKEN %s: %d %v\n", k, len(r.broken_[k]), head(r.broken_[k]))
	}
}

func head(ids []string) []string {
	if len(ids) > 20 {
		return ids[:20]
	}
	return ids
}
