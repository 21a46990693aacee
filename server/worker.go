package server

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookline/hookline/app/jobs"
)

// RecoverEvery is how often each worker looks for delivery attempts that
// Asynq holds but nobody will finish (outbound.Service.Recover): tasks of a
// killed worker, whose lease went unrenewed for 15 s, and archived ones. A
// pass costs one ZRANGEBYSCORE and one archive read per delivery queue.
// With it, an attempt interrupted by a worker crash is resumed 15–18 s
// later, one interrupted by a Redis outage within this interval of Redis's
// return (RELIABILITY.md).
const RecoverEvery = 2 * time.Second

// Worker runs the Asynq task server and the background loops of every
// package that has them.
type Worker struct {
	srv    *asynq.Server
	mux    *asynq.ServeMux
	loops  []func(ctx context.Context)
	stop   []func()
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Worker builds the worker side: Asynq handlers and background loops.
func (s *Server) Worker() *Worker {
	set := s.jobs()
	mux := asynq.NewServeMux()
	for typ, h := range set.Handlers {
		mux.Handle(typ, h)
	}
	loops := append(set.Loops, jobs.Every(RecoverEvery, s.Outbound.RecoverOnce))
	w := &Worker{mux: mux, loops: loops}
	srv := asynq.NewServerFromRedisClient(s.Redis, asynq.Config{
		Concurrency: cmp.Or(s.Config.WorkerConcurrency, 50), // 50 for a Config not made by config.Load
		Queues:      set.Queues,
		// An idle queue is polled this often, which bounds the pickup
		// latency of the first event after a quiet spell: at 20 ms, one
		// cheap dequeue script per 20 ms per worker while idle.
		TaskCheckInterval: 20 * time.Millisecond,
		// Retries are scheduled tasks; Asynq moves due ones to the queue on
		// this tick (5 s by default), which bounds how late a retry can be.
		DelayedTaskCheckInterval: time.Second,
		ShutdownTimeout:          30 * time.Second,
		Logger:                   asynqLogger{s.Log},
		LogLevel:                 asynq.WarnLevel,
	})
	w.srv = srv
	return w
}

// Start starts the task server and the loops.
func (w *Worker) Start() error {
	if err := w.srv.Start(w.mux); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	for _, loop := range w.loops {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			loop(ctx)
		}()
	}
	return nil
}

// Stop stops the loops, then lets in-flight tasks finish (up to the
// shutdown timeout) before returning.
func (w *Worker) Stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
	w.srv.Shutdown()
}
