package catalog

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// F27: the cache of types read is bounded; it never holds more than
// CacheSize entries however many accounts and types are read.
func TestCacheIsBounded(t *testing.T) {
	rdb := redistest.Client(t)
	s := New(rdb, store.NewKeys("t"), Options{CacheSize: 3})
	ctx := context.Background()
	p := auth.Principal{AccountID: "acc_1", Perms: perm.NewSet(perm.ManageWebhook)}
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("thing.t%d", i)
		if _, err := s.Create(ctx, p, NewType{Name: name, Description: "d"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "acc_1", name); err != nil {
			t.Fatal(err)
		}
		if n := len(s.cache); n > 3 {
			t.Fatalf("cache holds %d entries, want at most 3", n)
		}
	}
	if _, err := s.Get(ctx, "acc_1", "thing.t0"); err != nil {
		t.Fatalf("a type evicted from the cache is read again: %v", err)
	}
}
