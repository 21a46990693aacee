package secrets_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookline/hookline/app/secrets"
)

func TestSealOpenRotate(t *testing.T) {
	k1 := secrets.NewKey("k1")
	old, err := secrets.Parse(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := old.Seal("whsec_abc", "acc:whk_1#secret")
	if err != nil || !secrets.Sealed(sealed) || strings.Contains(sealed, "whsec_abc") {
		t.Fatalf("sealed %q, %v", sealed, err)
	}
	if got, err := old.Open(sealed, "acc:whk_1#secret"); err != nil || got != "whsec_abc" {
		t.Fatalf("open: %q, %v", got, err)
	}
	// Bound to its place: moved to another record, it does not open.
	if _, err := old.Open(sealed, "acc:whk_2#secret"); !errors.Is(err, secrets.ErrOpen) {
		t.Fatalf("moved value opened: %v", err)
	}
	// Rotation: the new key seals, the old one still opens.
	both, err := secrets.Parse(secrets.NewKey("k2") + "," + k1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := both.Open(sealed, "acc:whk_1#secret"); err != nil || got != "whsec_abc" {
		t.Fatalf("old value under the new ring: %q, %v", got, err)
	}
	if !both.Stale(sealed) || old.Stale(sealed) {
		t.Fatal("staleness wrong")
	}
	re, err := both.Reseal(sealed, "acc:whk_1#secret")
	if err != nil || both.Stale(re) || !strings.HasPrefix(re, "hlenc1:k2:") {
		t.Fatalf("reseal %q, %v", re, err)
	}
	// Plain values (written before encryption) read as they are, and are stale.
	if got, _ := both.Open("legacy", "x"); got != "legacy" || !both.Stale("legacy") {
		t.Fatal("plain value handling")
	}
	// A ring without the key refuses, never returns garbage.
	other, _ := secrets.Parse(secrets.NewKey("k3"))
	if _, err := other.Open(sealed, "acc:whk_1#secret"); !errors.Is(err, secrets.ErrOpen) {
		t.Fatalf("foreign ring opened: %v", err)
	}
	// Empty stays empty, and a nil ring stores plain values.
	var none *secrets.Keyring
	if s, _ := old.Seal("", "x"); s != "" {
		t.Fatal("empty sealed")
	}
	if s, _ := none.Seal("p", "x"); s != "p" || none.Enabled() {
		t.Fatal("nil ring")
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"nocolon", "k1:short", "k1:" + strings.Repeat("A", 44) + ",k1:" + strings.Repeat("A", 44), "bad id!:AAAA"} {
		if _, err := secrets.Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}
