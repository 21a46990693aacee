package topologytest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/internal/redistest"
	"github.com/hookline/hookline/outbound"
)

// Every Asynq operation Hookline uses works on a three-master Cluster
// without CROSSSLOT, on sharded queues spread over every master: enqueue
// with a task id (now, ProcessAt/ProcessIn), dequeue and finish, a retry
// moved back by the forwarder, archive on failure, heartbeats and leases,
// and the Inspector calls of the reconciler and the system page (Queues,
// GetQueueInfo, Servers, GetTaskInfo, ListArchivedTasks, DeleteTask,
// RunTask). Not used by Hookline and not shown here: task groups
// (aggregation), unique tasks, Retention, the Scheduler.
func TestCluster_AsynqOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-master Redis Cluster")
	}
	c := redistest.StartCluster(t, 3)
	rdb, err := store.Open(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	queues := outbound.ShardQueues(3)
	insp := asynq.NewInspectorFromRedisClient(rdb)

	// The shards sit on three different masters.
	nodes := map[string]bool{}
	for _, q := range queues {
		ns, err := insp.ClusterNodes(q)
		if err != nil || len(ns) == 0 {
			t.Fatalf("cluster nodes of %s: %v", q, err)
		}
		nodes[ns[0].Addr] = true
	}
	if len(nodes) != 3 {
		t.Fatalf("3 shard queues on %d masters, want 3", len(nodes))
	}

	var mu sync.Mutex
	runs := map[string]int{}
	h := asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		mu.Lock()
		runs[id]++
		n := runs[id]
		mu.Unlock()
		switch string(task.Payload()) {
		case "fail":
			return errors.New("fails for good")
		case "once":
			if n == 1 {
				return errors.New("fails once")
			}
		}
		return nil
	})
	prio := map[string]int{}
	for _, q := range queues {
		prio[q] = 1
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Queues: prio, Concurrency: 4,
		TaskCheckInterval: 50 * time.Millisecond, DelayedTaskCheckInterval: time.Second,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Second },
		LogLevel:       asynq.FatalLevel})
	if err := srv.Start(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	cl := asynq.NewClientFromRedisClient(rdb)
	enq := func(q, id, payload string, opts ...asynq.Option) {
		t.Helper()
		opts = append([]asynq.Option{asynq.Queue(q), asynq.TaskID(id), asynq.MaxRetry(0), asynq.Timeout(time.Minute)}, opts...)
		if _, err := cl.Enqueue(asynq.NewTask("t", []byte(payload)), opts...); err != nil {
			t.Fatalf("enqueue %s on %s: %v", id, q, err)
		}
	}
	for _, q := range queues {
		enq(q, q+"-now", "ok")
		enq(q, q+"-at", "ok", asynq.ProcessAt(time.Now().Add(time.Second)))
		enq(q, q+"-fail", "fail")
		enq(q, q+"-once", "once", asynq.MaxRetry(1))
		enq(q, q+"-later", "ok", asynq.ProcessIn(time.Hour))
		if _, err := cl.Enqueue(asynq.NewTask("t", nil), asynq.Queue(q), asynq.TaskID(q+"-later")); !errors.Is(err, asynq.ErrTaskIDConflict) {
			t.Fatalf("a repeated task id on %s: got %v, want ErrTaskIDConflict", q, err)
		}
		info, err := insp.GetTaskInfo(q, q+"-later")
		if err != nil || info.State != asynq.TaskStateScheduled {
			t.Fatalf("GetTaskInfo %s-later: %v %v", q, info, err)
		}
		if err := insp.RunTask(q, q+"-later"); err != nil {
			t.Fatalf("RunTask: %v", err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, q := range queues {
		for {
			mu.Lock()
			done := runs[q+"-now"] == 1 && runs[q+"-at"] == 1 && runs[q+"-later"] == 1 && runs[q+"-once"] == 2 && runs[q+"-fail"] == 1
			mu.Unlock()
			arch, err := insp.ListArchivedTasks(q)
			if err != nil {
				t.Fatalf("ListArchivedTasks %s: %v", q, err)
			}
			if done && len(arch) == 1 {
				if err := insp.DeleteTask(q, arch[0].ID); err != nil {
					t.Fatalf("DeleteTask %s: %v", arch[0].ID, err)
				}
				break
			}
			if time.Now().After(deadline) {
				mu.Lock()
				t.Fatalf("queue %s: runs %v, %d archived", q, runs, len(arch))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := insp.GetQueueInfo(q); err != nil {
			t.Fatalf("GetQueueInfo %s: %v", q, err)
		}
	}
	if qs, err := insp.Queues(); err != nil || len(qs) != len(queues) {
		t.Fatalf("Queues: %v %v", qs, err)
	}
	if ss, err := insp.Servers(); err != nil || len(ss) != 1 {
		t.Fatalf("Servers: %v %v", ss, err)
	}
}
