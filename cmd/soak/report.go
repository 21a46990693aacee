package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "published %d events in %s (%.0f/s), %d faults; publish answers before a 202: %v\n",
		r.accepted, r.published.Round(time.Second), float64(r.accepted)/r.published.Seconds(), len(r.faults), r.pub.errors)
	if r.burst != nil {
		r.burst.print(w)
	}
	fmt.Fprintf(w, "deliveries %d: delivered %d, failed %d; settled %s after publishing stopped\n",
		r.deliveries, r.delivered, r.failed, r.drain.Round(time.Second))
	fmt.Fprintf(w, "receiver: requests %v; acknowledged %d, duplicates %d in crash windows, %d outside (%.3f %%)\n",
		r.receiverRequests, r.acks, r.dupCrash, r.dupOther, 100*float64(r.dupOther)/float64(max(1, r.acks)))
	if len(r.accts) > 1 || r.topology == "cluster" {
		r.printAccounts(w, r.shards)
	}
	if len(r.lostInWindow) > 0 {
		fmt.Fprintf(w, "lost within AOF everysec's one-second window: %d %v\n", len(r.lostInWindow), head(r.lostInWindow))
	}
	for i, f := range r.failovers {
		fmt.Fprintf(w, "failover %d at %s: replica promoted %s after the kill, old master a replica with its link up after %s\n",
			i+1, f.killed.Format("15:04:05.000"), f.promoted.Sub(f.killed).Round(time.Millisecond),
			f.attached.Sub(f.killed).Round(time.Millisecond))
	}
	if r.scenario == "failover" {
		fmt.Fprintf(w, "lost to asynchronous replication (accepted from 2 s before a kill to 1 s after the old master's link was up): %d %v\n",
			len(r.lostToReplication), head(r.lostToReplication))
	}
	fmt.Fprintf(w, "readyz of api0 every 100 ms: %d polls, %d not 200, longest not-200 streak %d ms\n",
		r.readyz.polls, r.readyz.non200, r.readyz.longest.Milliseconds())
	r.printMemory(w)
	r.printCPU(w)
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
	fmt.Fprintln(w, rowHeader)
	fmt.Fprintln(w, r.row())
}

func (r *report) printMemory(w io.Writer) {
	mb := func(b int64) string { return fmt.Sprintf("%.1f", float64(b)/1e6) }
	kb := func(k int) string { return fmt.Sprint(k / 1024) }
	fmt.Fprintf(w, "memory start→mid→end: redis %s MB (%.0f B per delivery)", r.memTrend(func(m mem) string { return mb(m.redis) }),
		float64(r.memEnd.redis)/float64(max(1, r.deliveries)))
	if r.topology == "sentinel" {
		fmt.Fprintf(w, ", replica %s MB", r.memTrend(func(m mem) string { return mb(m.replicas) }))
	}
	what := "api"
	if r.burst != nil {
		what = "serve"
	}
	fmt.Fprintf(w, ", %s RSS %s MB", what, r.memTrend(func(m mem) string { return kb(m.apiKB) }))
	if r.burst == nil {
		fmt.Fprintf(w, ", workers RSS %s MB", r.memTrend(func(m mem) string { return kb(m.workersKB) }))
	}
	fmt.Fprintln(w)
	var total int64
	for _, n := range r.nodes {
		total += n.commands
	}
	for _, n := range r.nodes {
		restarted := ""
		if n.starts > 1 {
			restarted = fmt.Sprintf(" (started %d times: commands since the last start)", n.starts)
		}
		fmt.Fprintf(w, "redis %s %s: used_memory %.1f MB, total_commands_processed %d (%.0f %% of all data nodes)%s\n",
			n.addr, n.role, float64(n.usedMemory)/1e6, n.commands, 100*float64(n.commands)/float64(max(1, total)), restarted)
	}
	switch {
	case r.topology == "cluster" && len(r.accts) <= 1:
		// Read with the figures above: the soak has one account.
		fmt.Fprintln(w, "  (one soak account: its records share one hash tag and its deliveries one shard queue, "+
			"so its load lands on one or two masters; RELIABILITY.md, \"What is not sharded\")")
	case r.topology == "cluster":
		fmt.Fprintf(w, "  (%d soak accounts: each one's records on the master of its hash tag, its deliveries on the "+
			"master of its shard queue, as the account lines above say)\n", len(r.accts))
	}
}

// memTrend is one figure at start, mid and end; "-" where a sample was
// not taken (a run too short for it).
func (r *report) memTrend(f func(mem) string) string {
	var out []string
	for _, m := range []mem{r.memStart, r.memMid, r.memEnd} {
		if m.taken {
			out = append(out, f(m))
		} else {
			out = append(out, "-")
		}
	}
	return strings.Join(out, "→")
}

// perDelivery is the CPU ms of each kind per receiver request in the CPU
// window: in the steady scenarios one request is one delivery; with a
// failing receiver it is one attempt.
func (r *report) perDelivery() cpu {
	n := float64(max(1, r.cpuAttempts))
	return cpu{r.cpu.redis / n, r.cpu.api / n, r.cpu.workers / n}
}

func (r *report) printCPU(w io.Writer) {
	c := r.perDelivery()
	redis := "redis (data nodes summed"
	if r.topology == "sentinel" {
		redis += ", the replica included"
	}
	redis += ")"
	window := "publishing start → every accepted event received (at most 5 s after stop)"
	if r.burst != nil {
		window = "first publish → last arrival"
		fmt.Fprintf(w, "CPU ms per delivery (%s, %d receiver requests): %s %.3f, serve %.3f\n",
			window, r.cpuAttempts, redis, c.redis, c.api)
		fmt.Fprintf(w, "sizing: deliveries/s per serve core ≈ %s; per Redis core ≈ %s; serve processes per Redis ≈ %s\n",
			rate(c.api), rate(c.redis), ratio(c.api, c.redis))
		return
	}
	fmt.Fprintf(w, "CPU ms per delivery (%s, %d receiver requests): %s %.3f, api %.3f, workers %.3f\n",
		window, r.cpuAttempts, redis, c.redis, c.api, c.workers)
	fmt.Fprintf(w, "sizing (one worker process = one core; idle polling included, so low rates overstate it): "+
		"deliveries/s per worker core ≈ %s; deliveries/s per Redis core ≈ %s; workers per Redis master ≈ %s\n",
		rate(c.workers), rate(c.redis), ratio(c.workers, c.redis))
}

// rate is 1000/ms, the deliveries one core does per second at ms each.
func rate(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", 1000/ms)
}

// ratio is how many cores of the first kind one core of the second keeps
// busy: its rate over theirs.
func ratio(ms, redisMS float64) string {
	if ms <= 0 || redisMS <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", ms/redisMS)
}

// rowHeader names row's columns.
const rowHeader = "row: | scenario | topology | fsync | duration | rate | faults | accepted | delivered / failed | " +
	"duplicates (crash / other) | lost | lost in a window (AOF everysec, replication) | settled after stop | " +
	"readyz not 200 | memory start→mid→end | CPU ms per delivery | sizing | result |"

// row is the run as one line of RELIABILITY.md's table, for pasting.
func (r *report) row() string {
	c := r.perDelivery()
	result := "PASS"
	if r.broken() {
		result = "FAIL"
	}
	dur, rt := r.duration.String(), fmt.Sprint(r.rate)
	if r.burst != nil {
		dur, rt = r.published.Round(100*time.Millisecond).String(), "burst"
	}
	mb := func(b int64) string { return fmt.Sprintf("%.0f", float64(b)/1e6) }
	kb := func(k int) string { return fmt.Sprint(k / 1024) }
	memCol := fmt.Sprintf("redis %s MB, api %s MB, workers %s MB", r.memTrend(func(m mem) string { return mb(m.redis) }),
		r.memTrend(func(m mem) string { return kb(m.apiKB) }), r.memTrend(func(m mem) string { return kb(m.workersKB) }))
	cpuCol := fmt.Sprintf("redis %.3f, api %.3f, workers %.3f", c.redis, c.api, c.workers)
	sizing := fmt.Sprintf("%s/s per worker core, %s/s per Redis core, %s workers per master", rate(c.workers), rate(c.redis),
		ratio(c.workers, c.redis))
	if r.burst != nil {
		memCol = fmt.Sprintf("redis %s MB, serve %s MB", r.memTrend(func(m mem) string { return mb(m.redis) }),
			r.memTrend(func(m mem) string { return kb(m.apiKB) }))
		cpuCol = fmt.Sprintf("redis %.3f, serve %.3f", c.redis, c.api)
		sizing = fmt.Sprintf("%s/s per serve core, %s/s per Redis core", rate(c.api), rate(c.redis))
	}
	cols := []string{r.scenario, r.topology, r.fsync + r.replicas, dur, rt, fmt.Sprint(len(r.faults)),
		fmt.Sprint(r.accepted), fmt.Sprintf("%d / %d", r.delivered, r.failed),
		fmt.Sprintf("%d / %d", r.dupCrash, r.dupOther), fmt.Sprint(len(r.broken_[lostEvent])),
		fmt.Sprint(len(r.lostInWindow) + len(r.lostToReplication)), r.drain.Round(time.Second).String(),
		fmt.Sprintf("%d (longest %d ms)", r.readyz.non200, r.readyz.longest.Milliseconds()),
		memCol, cpuCol, sizing, result}
	return "row: | " + strings.Join(cols, " | ") + " |"
}

func head(ids []string) []string {
	if len(ids) > 20 {
		return ids[:20]
	}
	return ids
}
