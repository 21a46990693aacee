package main

import (
	"io"
	"net/http"
	"time"
)

// readyz polls GET /readyz of one API process every 100 ms and counts the
// answers that were not 200 (connection errors included), and the longest
// run of them: how long a load balancer would have taken the process out.
type readyz struct {
	url  string
	hc   *http.Client
	stop chan struct{}
	done chan struct{}
	fig  readyzFigures
}

// readyzFigures is what the poller saw over the run.
type readyzFigures struct {
	polls, non200 int
	longest       time.Duration
}

func startReadyz(base string) *readyz {
	z := &readyz{url: base + "/readyz", hc: &http.Client{Timeout: time.Second},
		stop: make(chan struct{}), done: make(chan struct{})}
	go z.run()
	return z
}

func (z *readyz) run() {
	defer close(z.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var streak time.Time // when the current run of non-200 answers began
	for {
		select {
		case <-z.stop:
			if !streak.IsZero() {
				z.fig.longest = max(z.fig.longest, time.Since(streak))
			}
			return
		case <-tick.C:
		}
		at := time.Now()
		ok := z.poll()
		z.fig.polls++
		switch {
		case !ok:
			z.fig.non200++
			if streak.IsZero() {
				streak = at
			}
		case !streak.IsZero():
			z.fig.longest = max(z.fig.longest, at.Sub(streak))
			streak = time.Time{}
		}
	}
}

func (z *readyz) poll() bool {
	resp, err := z.hc.Get(z.url)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// finish stops the poller and returns its figures.
func (z *readyz) finish() readyzFigures {
	close(z.stop)
	<-z.done
	return z.fig
}
