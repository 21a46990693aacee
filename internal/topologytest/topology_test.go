package topologytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/internal/redistest"
)

// On Sentinel (a master, a replica, three sentinels) the smoke suite passes,
// and a failover in the middle of a run of writes is survived without
// restarting Hookline: every write acknowledged with a 2xx is delivered,
// and the failover client finds the new master by itself.
func TestSentinel_SmokeAndFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five Redis processes and waits for a failover")
	}
	s := redistest.StartSentinel(t)
	g := newGateway(t, s.URL(0))
	recv := receiver.New(t, receiver.Reply{Status: 200}, receiver.Reply{Status: 500}, receiver.Reply{Status: 200})
	whk := g.smoke(recv)

	// Writes continue while the master is killed; each is retried until
	// acknowledged. The retries carry no Idempotency-Key: a write refused
	// during the gap changed nothing (the customer and its event are one
	// transaction), so the same body may be sent again.
	stop := make(chan struct{})
	done := make(chan []string)
	var acks atomic.Int64
	var lastErr atomic.Value // the last refused write's answer, for the failure message
	lastErr.Store("")
	go func() {
		var acked []string
		for i := 0; ; i++ {
			body := map[string]any{"name": "Bo", "email": fmt.Sprintf("bo%d@example.com", i)}
			for {
				select {
				case <-stop:
					done <- acked
					return
				default:
				}
				st, raw := g.try("POST", "/v1/customers", body)
				if okStatus(st) {
					var c struct{ ID string }
					_ = json.Unmarshal(raw, &c)
					acked = append(acked, c.ID)
					acks.Add(1)
					break
				}
				lastErr.Store(fmt.Sprintf("%d %s", st, raw))
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // a steady trickle, not a benchmark
		}
	}()
	// readyz is polled through the failover: it must report the gap (503)
	// and report ready again once the replica is promoted.
	readyStop := make(chan struct{})
	readyDone := make(chan [2]int)
	go func() {
		notReady, after := 0, 0
		for {
			select {
			case <-readyStop:
				readyDone <- [2]int{notReady, after}
				return
			default:
			}
			if st, _ := g.try("GET", "/readyz", nil); st == http.StatusServiceUnavailable {
				notReady++
				after = 0
			} else if st == http.StatusOK {
				after++
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond) // let writes run before the failover
	took := s.KillMaster(t)
	t.Logf("failover: the replica accepted writes %.1f s after the master was killed", took.Seconds())
	// Writes go on after it: one acknowledged within 20 s at most (the
	// failover client finds the new master by itself).
	before := acks.Load()
	deadline := time.Now().Add(20 * time.Second)
	for acks.Load() == before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if acks.Load() == before {
		close(stop)
		<-done
		t.Fatalf("no write acknowledged in 20 s after the failover; the last answer: %s", lastErr.Load())
	}
	time.Sleep(2 * time.Second) // and a while after it
	close(stop)
	acked := <-done
	close(readyStop)
	ready := <-readyDone
	t.Logf("readyz: %d polls answered 503 during the failover, then %d answered 200", ready[0], ready[1])
	if ready[0] == 0 || ready[1] == 0 {
		t.Fatalf("readyz answered 503 %d times and 200 %d times after; want the gap reported, then ready", ready[0], ready[1])
	}
	// Replication is asynchronous: what the old master acknowledged but had
	// not sent to the replica is gone (RELIABILITY.md). Every write that
	// survived is delivered.
	kept := 0
	for _, id := range acked {
		if st, _ := g.try("GET", "/v1/customers/"+id, nil); st == 200 {
			kept++
		}
	}
	ds := g.waitDelivered(whk, "customer.created", 1+kept, 60*time.Second)
	t.Logf("%d writes acknowledged around the failover, %d lost with the old master, %d deliveries, all delivered",
		len(acked), len(acked)-kept, len(ds))
	if len(acked)-kept > 10 {
		t.Fatalf("%d acknowledged writes lost in one failover; want at most the last moment's", len(acked)-kept)
	}
}

func first(s int, _ []byte) int { return s }

// On a three-master Cluster the smoke suite passes: every Hookline key
// carries its account's hash tag, and Asynq's keys of one queue share the
// queue's slot.
func TestCluster_Smoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-master Redis Cluster")
	}
	c := redistest.StartCluster(t, 3)
	g := newGateway(t, c.URL())
	recv := receiver.New(t, receiver.Reply{Status: 200}, receiver.Reply{Status: 500}, receiver.Reply{Status: 200})
	g.smoke(recv)
}
