package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// api is a client of Hookline's /v1 API with one key.
type api struct {
	base []string
	key  string
	hc   *http.Client
	next *atomic.Int64 // shared by every account's client: the API processes take turns
}

func (a *api) do(method, path string, body any, headers map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	base := a.base[int(a.next.Add(1))%len(a.base)]
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// must retries a setup call until it answers want (the API may be starting).
func (a *api) must(method, path string, body any, want int, out any) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, raw, err := a.do(method, path, body, nil)
		if err == nil && st == want {
			if out != nil {
				return json.Unmarshal(raw, out)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s %s: %d %v %s", method, path, st, err, raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// accepted is one publish answered 202: its account (an index of the
// publisher's apis), when its first request was sent, when the 202 came.
type accepted struct {
	seq, acct int
	id        string
	sent, at  time.Time
}

// publisher publishes soak.tick events at a rate, round-robin over the
// accounts (publish seq goes to account seq % len(apis), with its key);
// each publish is retried with its Idempotency-Key until it is answered
// 202, as clients should.
type publisher struct {
	apis  []*api // one per account
	rate  int
	types int // an account's events go to soak.tick0 … soak.tick<types-1>, by seq

	mu       sync.Mutex
	accepted []accepted
	errors   map[string]int // status (or "conn") → answers before a 202
	gaveUp   []int
}

func (p *publisher) run(stop <-chan struct{}) {
	work := make(chan int, 10_000)
	var wg sync.WaitGroup
	for i := 0; i < 48; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range work {
				p.publish(seq)
			}
		}()
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start, seq := time.Now(), 0
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-tick.C:
			due := int(time.Since(start).Seconds() * float64(p.rate))
			for ; seq < due; seq++ {
				work <- seq + 1
			}
		}
	}
	close(work)
	wg.Wait()
}

// acctOf is the account a publish sequence number goes to.
func (p *publisher) acctOf(seq int) int { return seq % len(p.apis) }

func (p *publisher) publish(seq int) {
	// The type counts an account's own publishes, so each account's events
	// spread over every type whatever the number of accounts.
	acct, n := p.acctOf(seq), len(p.apis)
	body := map[string]any{"type": fmt.Sprintf("soak.tick%d", (seq/n)%p.types), "data": map[string]any{"seq": seq}}
	hdr := map[string]string{"Idempotency-Key": "soak-" + strconv.Itoa(seq)}
	sent := time.Now()
	deadline := sent.Add(2 * time.Minute)
	for {
		st, raw, err := p.apis[acct].do("POST", "/v1/events", body, hdr)
		if err == nil && st == http.StatusAccepted {
			var ev struct{ ID string }
			_ = json.Unmarshal(raw, &ev)
			p.mu.Lock()
			p.accepted = append(p.accepted, accepted{seq: seq, acct: acct, id: ev.ID, sent: sent, at: time.Now()})
			p.mu.Unlock()
			return
		}
		why := strconv.Itoa(st)
		if err != nil {
			why = "conn"
		}
		p.mu.Lock()
		p.errors[why]++
		if time.Now().After(deadline) {
			p.gaveUp = append(p.gaveUp, seq)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
}

// delivery is a delivery as the list shows it.
type delivery struct {
	ID            string     `json:"id"`
	EventID       string     `json:"event_id"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	AttemptLog    []struct {
		Number int `json:"number"`
	} `json:"attempt_log"`
}

// deliveries lists every delivery of a webhook.
func (a *api) deliveries(whk string) ([]delivery, error) {
	var all []delivery
	cursor := ""
	for {
		var page struct {
			Data       []delivery
			NextCursor *string `json:"next_cursor"`
		}
		err := a.must("GET", "/v1/webhooks/"+whk+"/deliveries?limit=200&cursor="+url.QueryEscape(cursor), nil, 200, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		if page.NextCursor == nil || *page.NextCursor == "" {
			return all, nil
		}
		cursor = *page.NextCursor
	}
}
