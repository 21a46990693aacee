package outbound

import (
	"context"
	"testing"
	"time"
)

// An item that pauses (waitLocal: waiting for its webhook's lease) frees
// its account slot for another item, and takes one again only when one is
// free; an account's entry is gone once no item holds or waits for it.
func TestAccountGate_PauseFreesTheSlot(t *testing.T) {
	var g accountGate
	ctx := context.Background()
	p1, err := g.enter(ctx, "acc", 1)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := g.enter(short, "acc", 1); err == nil {
		t.Fatal("a second item entered a one-slot gate while the first held it")
	}
	p1.pause()
	p2, err := g.enter(ctx, "acc", 1)
	if err != nil {
		t.Fatalf("the slot a paused item gave back was not free: %v", err)
	}
	resumed := make(chan error, 1)
	go func() { resumed <- p1.resume(ctx) }()
	select {
	case <-resumed:
		t.Fatal("a paused item resumed while the only slot was held")
	case <-time.After(20 * time.Millisecond):
	}
	g.exit(p2)
	if err := <-resumed; err != nil {
		t.Fatal(err)
	}
	g.exit(p1)
	if len(g.m) != 0 {
		t.Fatalf("gate entries left after every item exited: %v", g.m)
	}
}
