// Package jobs is how a package hands the worker its background work: Asynq
// task handlers with the queues they use, and loops that run until the
// worker stops. The composition root collects every package's Set.
package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// Set is one package's background work.
type Set struct {
	// Handlers maps an Asynq task type to its handler.
	Handlers map[string]asynq.Handler
	// Queues maps each queue the handlers consume to its priority.
	Queues map[string]int
	// Loops run from the worker's start until ctx ends.
	Loops []func(ctx context.Context)
}

// Merge returns the union of sets; a task type or queue named twice keeps
// the last one given.
func Merge(sets ...Set) Set {
	out := Set{Handlers: map[string]asynq.Handler{}, Queues: map[string]int{}}
	for _, s := range sets {
		for k, h := range s.Handlers {
			out.Handlers[k] = h
		}
		for q, p := range s.Queues {
			out.Queues[q] = p
		}
		out.Loops = append(out.Loops, s.Loops...)
	}
	return out
}

// Every returns a loop that runs f every d until ctx ends (the first run
// after d). f logs its own failures.
func Every(d time.Duration, f func(ctx context.Context)) func(ctx context.Context) {
	return func(ctx context.Context) {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f(ctx)
			}
		}
	}
}
