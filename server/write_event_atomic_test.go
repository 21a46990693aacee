package server_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/internal/apitest"
)

// failEventWrite fails, once, the first round trip that would write an
// event record, before it reaches Redis: the process or Redis dying at that
// moment.
type failEventWrite struct{ done atomic.Bool }

func (f *failEventWrite) writesEvent(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if name := c.Name(); name != "hset" && name != "eval" && name != "evalsha" {
			continue
		}
		for _, a := range c.Args() {
			if s, ok := a.(string); ok && strings.Contains(s, ":evt:evt_") {
				return true
			}
		}
	}
	return false
}
func (f *failEventWrite) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failEventWrite) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.writesEvent([]redis.Cmder{cmd}) && f.done.CompareAndSwap(false, true) {
			return errors.New("connection reset by peer (injected)")
		}
		return next(ctx, cmd)
	}
}
func (f *failEventWrite) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if f.writesEvent(cmds) && f.done.CompareAndSwap(false, true) {
			return errors.New("connection reset by peer (injected)")
		}
		return next(ctx, cmds)
	}
}

// A customer write and its event are kept or lost together. When the
// event's record cannot be written, the customer is not created either, and
// the client's retry creates it, with one customer.created. Before, the
// customer was written in one round trip and its event in the next: the
// customer stayed without its event (no webhook ever heard of it) and the
// retry met "another customer already has this email". A Sentinel failover
// test found it.
func TestCustomerWrite_AndItsEventAreOneTransaction(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	a := api.NewAccount("A")
	api.Server.Redis.AddHook(&failEventWrite{})
	body := map[string]any{"name": "Ann", "email": "ann@example.com"}
	if r := api.Do("POST", "/v1/customers", a.Key, body); r.Status < 500 {
		t.Fatalf("the write whose event failed answered %d %s, want a 5xx", r.Status, r.Body)
	}
	id := api.Do("POST", "/v1/customers", a.Key, body).Want(201).Str("id")

	var page struct {
		Data []struct {
			Type string
			Data struct{ ID string }
		}
	}
	api.Do("GET", "/v1/events?limit=100", a.Key, nil).Want(200).JSON(&page)
	created := 0
	for _, ev := range page.Data {
		if ev.Type == "customer.created" {
			created++
			if ev.Data.ID != id {
				t.Errorf("customer.created for %s, want only %s", ev.Data.ID, id)
			}
		}
	}
	if created != 1 {
		t.Fatalf("%d customer.created events, want 1", created)
	}
	var list struct{ Data []struct{ ID string } }
	api.Do("GET", "/v1/customers?limit=100", a.Key, nil).Want(200).JSON(&list)
	if len(list.Data) != 1 {
		t.Fatalf("%d customers, want 1", len(list.Data))
	}
}
