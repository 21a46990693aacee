package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/outbound"
	"github.com/redis/go-redis/v9"
)

// tenant is one soak account: its id, a client with its key, and its
// webhooks by receiver path ("/main", …, without the account prefix).
type tenant struct {
	idx   int
	id    string
	api   *api
	hooks map[string][]string
}

// acctFigures is one account's share of a run: where Redis Cluster holds
// it, and its figures from the check.
type acctFigures struct {
	id, queue          string
	recordsOn, queueOn string // the master holding its records / its shard queue (cluster only)

	accepted, deliveries, delivered, failed int
	acks, dupCrash, dupOther, broken        int
}

// acctPath is the receiver path of account i's webhook for base ("/main"):
// base itself with one account, /a<i><base> with more, so the receiver's
// record tells the accounts apart.
func acctPath(i, n int, base string) string {
	if n <= 1 {
		return base
	}
	return "/a" + strconv.Itoa(i) + base
}

// splitPath undoes acctPath: the account index (0 without a prefix) and
// the base path.
func splitPath(p string) (int, string) {
	rest, ok := strings.CutPrefix(p, "/a")
	if !ok {
		return 0, p
	}
	j := strings.IndexByte(rest, '/')
	if j < 1 {
		return 0, p
	}
	i, err := strconv.Atoi(rest[:j])
	if err != nil || i < 0 {
		return 0, p
	}
	return i, rest[j:]
}

// basePath is p without its account prefix.
func basePath(p string) string {
	_, b := splitPath(p)
	return b
}

// setup creates n accounts, each with the same event types and one webhook
// per type and receiver path on one receiver.
func setup(top *topology, bin string, script map[string]behaviour, types, n int) ([]*tenant, *receiver, error) {
	// Idle connections are kept for every publishing goroutine: the default
	// two per host would make most publishes open a new connection.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	hc := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	rr := new(atomic.Int64) // the API processes, round-robin over every account's requests
	recv, err := newReceiver(script, 2*time.Second)
	if err != nil {
		return nil, nil, err
	}
	var ts []*tenant
	for i := 0; i < n; i++ {
		name, email := "Soak", "soak@example.com"
		if n > 1 {
			name, email = fmt.Sprintf("Soak %d", i), fmt.Sprintf("soak%d@example.com", i)
		}
		id, key, err := top.createAccount(bin, name, email)
		if err != nil {
			return nil, nil, err
		}
		t := &tenant{idx: i, id: id, api: &api{base: top.apiURLs, key: key, hc: hc, next: rr}, hooks: map[string][]string{}}
		if err := t.createHooks(recv, script, types, n); err != nil {
			return nil, nil, err
		}
		ts = append(ts, t)
	}
	return ts, recv, nil
}

func (t *tenant) createHooks(recv *receiver, script map[string]behaviour, types, n int) error {
	a := t.api
	for k := 0; k < types; k++ {
		typ := fmt.Sprintf("soak.tick%d", k)
		if err := a.must("POST", "/v1/event-types", map[string]any{"name": typ, "description": "A soak test event.",
			"sample": map[string]any{"seq": 1}}, 201, nil); err != nil {
			return err
		}
		for path, b := range script {
			if b.gone && k > 0 {
				continue // deleted at its first 410: one is enough
			}
			// max_in_flight is the most a webhook may set: at the default
			// (10) a receiver that holds 10 % of requests for 2 s caps one
			// webhook near 40 attempts/s, below what receiver-chaos sends
			// it, and the run would measure that cap, not durability.
			p := acctPath(t.idx, n, path)
			var w struct{ ID string }
			if err := a.must("POST", "/v1/webhooks", map[string]any{"name": p, "url": recv.url + p, "events": []string{typ},
				"timeout": "2s", "retry_schedule": []string{"1s", "2s", "5s", "10s", "20s"}, "max_in_flight": 100}, 201, &w); err != nil {
				return err
			}
			if err := a.must("PATCH", "/v1/webhooks/"+w.ID, map[string]any{"active": true}, 200, nil); err != nil {
				return err
			}
			t.hooks[path] = append(t.hooks[path], w.ID)
		}
	}
	return nil
}

// createAccount runs hookline admin create-account and returns the account
// id and its API key.
func (t *topology) createAccount(bin, name, email string) (string, string, error) {
	cmd := exec.Command(bin, "admin", "create-account", "--name", name, "--email", email)
	cmd.Env = append(append(os.Environ(), t.env...), "HOOKLINE_ADMIN_PASSWORD=soak-password-1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("create-account: %v: %s", err, out)
	}
	// The answer is one JSON line; warnings may come before it.
	for _, l := range strings.Split(string(out), "\n") {
		var c struct {
			AccountID string `json:"account_id"`
			APIKey    string `json:"api_key"`
		}
		if json.Unmarshal([]byte(l), &c) == nil && c.APIKey != "" && c.AccountID != "" {
			return c.AccountID, c.APIKey, nil
		}
	}
	return "", "", fmt.Errorf("create-account: no account_id and api_key in %s", out)
}

// placements says where each account lives: its delivery queue
// (outbound.QueueFor over the run's shards) and, on Cluster, the masters
// holding its records (hash tag {acc_…}) and that queue (asynq:{<queue>}:…).
func placements(ctx context.Context, top *topology, ts []*tenant) []acctFigures {
	out := make([]acctFigures, len(ts))
	owner := func(string) string { return "" }
	if top.redis.kind == "cluster" {
		c := redis.NewClient(&redis.Options{Addr: top.redis.data[0].addr})
		defer c.Close()
		slots, _ := c.ClusterSlots(ctx).Result()
		owner = func(tag string) string {
			s, err := c.ClusterKeySlot(ctx, "{"+tag+"}").Result()
			if err != nil {
				return "?"
			}
			for _, cs := range slots {
				if int64(cs.Start) <= s && s <= int64(cs.End) && len(cs.Nodes) > 0 {
					return cs.Nodes[0].Addr
				}
			}
			return "?"
		}
	}
	for i, t := range ts {
		q := outbound.QueueFor(t.id, top.shards)
		out[i] = acctFigures{id: t.id, queue: q, recordsOn: owner(t.id), queueOn: owner(q)}
	}
	return out
}

// printAccounts is one line per account: where it lives and its share of
// the figures, and the shard queues no account landed on.
func (r *report) printAccounts(w io.Writer, shards int) {
	used := map[string]bool{}
	for i, a := range r.accts {
		used[a.queue] = true
		where := "queue " + a.queue
		if a.queueOn != "" {
			where += fmt.Sprintf(" on %s, records on %s", a.queueOn, a.recordsOn)
		}
		fmt.Fprintf(w, "account %d %s (%s): accepted %d, deliveries %d: delivered %d, failed %d; acknowledged %d, "+
			"duplicates %d / %d; broken %d\n", i, a.id, where, a.accepted, a.deliveries, a.delivered, a.failed,
			a.acks, a.dupCrash, a.dupOther, a.broken)
	}
	var idle []string
	for _, q := range outbound.ShardQueues(shards) {
		if shards > 1 && !used[q] {
			idle = append(idle, q)
		}
	}
	if len(idle) > 0 {
		fmt.Fprintf(w, "  shard queues no account maps to (their master gets no delivery work; try more -accounts): %v\n", idle)
	}
}

// apisOf is the accounts' clients, in account order.
func apisOf(ts []*tenant) []*api {
	out := make([]*api, len(ts))
	for i, t := range ts {
		out[i] = t.api
	}
	return out
}
