package ids_test

import (
	"testing"
	"time"

	"github.com/hookline/hookline/app/ids"
)

func TestNewSortsInCreationOrderWithinAMillisecond(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	prev := ids.New(ids.Customer, now)
	for i := 0; i < 1000; i++ {
		id := ids.New(ids.Customer, now)
		if id <= prev {
			t.Fatalf("%s made after %s sorts before it", id, prev)
		}
		prev = id
	}
	if !ids.HasPrefix(prev, ids.Customer) || ids.HasPrefix(prev, ids.Event) {
		t.Fatalf("HasPrefix wrong for %s", prev)
	}
}

func TestDeriveIsStableAndTimeOrdered(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	a := ids.Derive(ids.Delivery, t0, "evt_1/whk_1")
	if a != ids.Derive(ids.Delivery, t0, "evt_1/whk_1") {
		t.Fatal("Derive is not deterministic")
	}
	if a == ids.Derive(ids.Delivery, t0, "evt_1/whk_2") {
		t.Fatal("different seeds gave one id")
	}
	if later := ids.Derive(ids.Delivery, t0.Add(time.Millisecond), "evt_0"); later <= a {
		t.Fatalf("later id %s sorts before %s", later, a)
	}
	if floor := ids.Floor(ids.Delivery, t0); floor > a {
		t.Fatalf("floor %s above %s", floor, a)
	}
}
