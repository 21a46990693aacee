package safehttp_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/hookline/hookline/outbound/safehttp"
)

func TestCheckAddr(t *testing.T) {
	prod := safehttp.Policy{}
	allow := safehttp.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	dev := safehttp.Policy{AllowHTTP: true, AllowPrivate: true}
	tests := []struct {
		addr        string
		prod, allow bool // allowed?
	}{
		{"93.184.216.34", true, true},
		{"2606:2800:220:1::1", true, true},
		{"127.0.0.1", false, false},
		{"10.1.2.3", false, true},
		{"10.2.0.1", false, false},
		{"172.20.0.1", false, false},
		{"192.168.1.1", false, false},
		{"169.254.169.254", false, false},
		{"100.100.100.200", false, false},
		{"0.0.0.0", false, false},
		{"224.0.0.251", false, false},
		{"255.255.255.255", false, false},
		{"::1", false, false},
		{"::", false, false},
		{"::ffff:127.0.0.1", false, false},
		{"::ffff:93.184.216.34", true, true}, // F23: judged as the IPv4 it carries
		{"::ffff:10.1.2.3", false, true},
		{"::127.0.0.1", false, false},
		{"2002:7f00:1::", false, false},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false, false},
		{"64:ff9b::7f00:1", false, false},
		{"64:ff9b:1::a00:1", false, false},
		{"fec0::1", false, false},
		{"2001:db8::1", false, false},
		{"192.0.2.1", false, false},
		{"fd12:3456::1", false, false},
		{"fe80::1", false, false},
		{"ff02::1", false, false},
	}
	for _, tc := range tests {
		a := netip.MustParseAddr(tc.addr)
		if got := prod.CheckAddr(a) == nil; got != tc.prod {
			t.Errorf("production %s allowed=%v, want %v", tc.addr, got, tc.prod)
		}
		if got := allow.CheckAddr(a) == nil; got != tc.allow {
			t.Errorf("with 10.1.0.0/16 open %s allowed=%v, want %v", tc.addr, got, tc.allow)
		}
		if dev.CheckAddr(a) != nil {
			t.Errorf("development refuses %s", tc.addr)
		}
	}
}

func TestCheckURL(t *testing.T) {
	p := safehttp.Policy{}
	for raw, want := range map[string]string{
		"https://93.184.216.34/x":       "",
		"http://93.184.216.34/x":        "https",
		"https://127.0.0.1/x":           "loopback",
		"https://user:pw@example.com/x": "credentials",
		"https://example.com/x#frag":    "fragment",
		"/relative":                     "absolute",
		"https://sub.localhost/x":       "loopback",
	} {
		err := p.CheckURL(context.Background(), raw)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
}

func TestClassify(t *testing.T) {
	err := (&safehttp.BlockedError{Reason: "x"})
	if safehttp.Classify(err) != "blocked_target" {
		t.Fatal("blocked")
	}
	if safehttp.Classify(context.DeadlineExceeded) != "timeout" {
		t.Fatal("timeout")
	}
}
