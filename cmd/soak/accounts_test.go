package main

import "testing"

func TestAcctPath_RoundTrip(t *testing.T) {
	for _, c := range []struct {
		i, n int
		base string
		want string
	}{
		{0, 1, "/main", "/main"},
		{0, 6, "/main", "/a0/main"},
		{5, 6, "/throttle", "/a5/throttle"},
		{12, 20, "/gone", "/a12/gone"},
	} {
		p := acctPath(c.i, c.n, c.base)
		if p != c.want {
			t.Errorf("acctPath(%d, %d, %q) = %q, want %q", c.i, c.n, c.base, p, c.want)
		}
		i, b := splitPath(p)
		if c.n > 1 && (i != c.i || b != c.base) || c.n <= 1 && (i != 0 || b != c.base) {
			t.Errorf("splitPath(%q) = %d, %q", p, i, b)
		}
	}
	for _, p := range []string{"/main", "/a/main", "/ax/main", "/a-1/main", "/a3"} {
		if i, b := splitPath(p); i != 0 || b != p {
			t.Errorf("splitPath(%q) = %d, %q, want 0, %q", p, i, b, p)
		}
	}
}
