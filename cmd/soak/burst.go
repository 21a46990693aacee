package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// burstClients is how many clients publish at once in the burst scenario,
// each sending its next event as soon as the last was accepted.
const burstClients = 8

// burstFigures are the burst scenario's throughput and latency.
type burstFigures struct {
	accepted, arrived         int
	firstSent, last202        time.Time
	firstArrival, lastArrival time.Time
	p50, p99                  time.Duration
}

// burst publishes o.events events to one `hookline serve` on a standalone
// Redis (AOF everysec), one webhook on a receiver that answers 200 at once,
// then runs the normal checks.
func burst(o options) (*report, error) {
	ctx := context.Background()
	sc := scenarios["burst"]
	top, err := startTopology(ctx, o.bin, o.dir, layout{redis: "standalone", fsync: sc.fsync, apiRole: "serve", apis: 1})
	if err != nil {
		return nil, err
	}
	defer top.stop()
	ts, recv, err := setup(top, o.bin, sc.script, 1, o.accounts)
	if err != nil {
		return nil, err
	}
	rep := &report{scenario: "burst", topology: "standalone", fsync: sc.fsync, shards: top.shards,
		accts: placements(ctx, top, ts)}
	pub := &publisher{apis: apisOf(ts), types: 1, errors: map[string]int{}}
	rep.pub = pub
	rz := startReadyz(top.apiURLs[0])
	rep.memStart = sample(ctx, top)
	cpu0 := cpuNow(top)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < burstClients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := int(next.Add(1)); seq <= o.events; seq = int(next.Add(1)) {
				pub.publish(seq)
			}
		}()
	}
	wg.Wait()
	rep.stopped = time.Now()
	rep.published = rep.stopped.Sub(start)
	rep.memMid = sample(ctx, top)
	// The CPU window ends with the last arrival, before the check's reads.
	_ = waitFor(3*time.Minute, "", func() bool { return recv.firstAcks("/main") >= len(pub.accepted) })
	rep.cpu, rep.cpuAttempts = cpuNow(top).minus(cpu0), recv.requestCount()
	rep.memEnd = sample(ctx, top)
	rep.burst = burstOf(pub.accepted, recv, len(ts))
	err = rep.check(ctx, ts, recv, "")
	rep.readyz = rz.finish()
	rep.nodes = nodesAtEnd(ctx, top)
	return rep, err
}

// burstOf measures the run from the publisher's and the receiver's record:
// each event's first request to its first arrival.
func burstOf(acc []accepted, recv *receiver, accounts int) *burstFigures {
	b := &burstFigures{accepted: len(acc)}
	acks, _, _ := recv.snapshot()
	var lats []time.Duration
	for _, e := range acc {
		if b.firstSent.IsZero() || e.sent.Before(b.firstSent) {
			b.firstSent = e.sent
		}
		if e.at.After(b.last202) {
			b.last202 = e.at
		}
		as := acks[acctPath(e.acct, accounts, "/main")+" "+e.id]
		if len(as) == 0 {
			continue
		}
		b.arrived++
		at := as[0].at
		if b.firstArrival.IsZero() || at.Before(b.firstArrival) {
			b.firstArrival = at
		}
		if at.After(b.lastArrival) {
			b.lastArrival = at
		}
		lats = append(lats, at.Sub(e.sent))
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	if len(lats) > 0 {
		b.p50, b.p99 = lats[len(lats)*50/100], lats[min(len(lats)-1, len(lats)*99/100)]
	}
	return b
}

func (b *burstFigures) print(w io.Writer) {
	pubFor, recvFor := b.last202.Sub(b.firstSent), b.lastArrival.Sub(b.firstArrival)
	fmt.Fprintf(w, "burst (%d clients): accepted %d in %s = %.0f events/s (first request → last 202); "+
		"arrived %d in %s = %.0f deliveries/s (first → last arrival); publish → arrival p50 %s, p99 %s\n",
		burstClients, b.accepted, pubFor.Round(time.Millisecond), float64(b.accepted)/max(pubFor.Seconds(), 1e-3),
		b.arrived, recvFor.Round(time.Millisecond), float64(b.arrived)/max(recvFor.Seconds(), 1e-3),
		b.p50.Round(100*time.Microsecond), b.p99.Round(100*time.Microsecond))
}
