package outbound

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/perm"
)

// Queue is one Asynq queue's task counts by state and the age of its
// oldest pending task.
type Queue struct {
	Name                                                   string
	Pending, Active, Scheduled, Retry, Archived, Completed int
	OldestPending                                          time.Duration
	Paused                                                 bool
}

// WorkerServer is one running worker process, as it reports itself.
type WorkerServer struct {
	ID, Host, Status string
	PID, Concurrency int
	Active           int // tasks being processed now
	Queues           []string
	Started          time.Time
}

// System is what the deployment's workers are doing: every Asynq queue on
// this Redis and every worker server.
type System struct {
	Queues  []Queue
	Servers []WorkerServer
}

// System reports the queues and worker servers, read through Asynq's
// Inspector. Queues and servers are shared by every account of the
// deployment, so p needs manage:account. The queues are those Asynq has
// seen; the delivery queue is listed even before its first task.
func (s *Service) System(ctx context.Context, p auth.Principal) (System, error) {
	if err := p.Require(perm.ManageAccount); err != nil {
		return System{}, err
	}
	names, err := s.inspector.Queues()
	if err != nil {
		return System{}, fmt.Errorf("outbound: list queues: %w", err)
	}
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	if !seen[s.opts.Queue] {
		names = append(names, s.opts.Queue)
	}
	sort.Strings(names)
	var out System
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return System{}, err
		}
		q := Queue{Name: n}
		if info, err := s.inspector.GetQueueInfo(n); err == nil {
			q = Queue{Name: n, Pending: info.Pending, Active: info.Active, Scheduled: info.Scheduled, Retry: info.Retry,
				Archived: info.Archived, Completed: info.Completed, OldestPending: info.Latency, Paused: info.Paused}
		} else if seen[n] {
			return System{}, fmt.Errorf("outbound: queue %s: %w", n, err)
		}
		out.Queues = append(out.Queues, q)
	}
	servers, err := s.inspector.Servers()
	if err != nil {
		return System{}, fmt.Errorf("outbound: list worker servers: %w", err)
	}
	for _, sv := range servers {
		w := WorkerServer{ID: sv.ID, Host: sv.Host, Status: sv.Status, PID: sv.PID, Concurrency: sv.Concurrency,
			Active: len(sv.ActiveWorkers), Started: sv.Started}
		for q := range sv.Queues {
			w.Queues = append(w.Queues, q)
		}
		sort.Strings(w.Queues)
		out.Servers = append(out.Servers, w)
	}
	sort.Slice(out.Servers, func(i, j int) bool { return out.Servers[i].Started.Before(out.Servers[j].Started) })
	return out, nil
}
