package safehttp_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hookline/hookline/outbound/safehttp"
)

// fakeDNS stands in for the internet's DNS (and for /etc/hosts, which Go may
// answer with IPv4-mapped addresses).
type fakeDNS map[string][]string

func (d fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ips, ok := d[host]
	if !ok {
		return nil, errors.New("no such host " + host)
	}
	var out []netip.Addr
	for _, ip := range ips {
		out = append(out, netip.MustParseAddr(ip))
	}
	return out, nil
}

// corpusDNS maps a name to each blocked range, and the spellings of 127.0.0.1
// that getaddrinfo (inet_aton) reads as an address, so a resolver that
// "helpfully" parses them is covered too.
var corpusDNS = fakeDNS{
	"loopback.test":        {"127.0.0.1"},
	"loopback8.test":       {"127.8.9.10"},
	"loopback6.test":       {"::1"},
	"vm":                   {"::ffff:127.0.0.1"}, // the review's hosts-file name
	"private10.test":       {"10.0.0.1"},
	"private172.test":      {"172.16.5.4"},
	"private192.test":      {"192.168.1.1"},
	"metadata.test":        {"169.254.169.254"},
	"metadata-mapped.test": {"::ffff:169.254.169.254"},
	"cgnat.test":           {"100.64.0.1"},
	"alibaba-meta.test":    {"100.100.100.200"},
	"unspecified.test":     {"0.0.0.0"},
	"unspecified6.test":    {"::"},
	"multicast.test":       {"224.0.0.251"},
	"multicast6.test":      {"ff02::1"},
	"broadcast.test":       {"255.255.255.255"},
	"reserved.test":        {"240.0.0.1"},
	"ietf.test":            {"192.0.0.170"},
	"docs.test":            {"192.0.2.1"},
	"bench.test":           {"198.18.0.1"},
	"ula.test":             {"fd00:ec2::254"},
	"linklocal6.test":      {"fe80::1"},
	"sitelocal.test":       {"fec0::1"},
	"compat.test":          {"::127.0.0.1"},
	"6to4.test":            {"2002:7f00:1::"},
	"nat64.test":           {"64:ff9b::7f00:1"},
	"nat64local.test":      {"64:ff9b:1::a00:1"},
	"teredo.test":          {"2001:0:4136:e378:8000:63bf:3fff:fdd2"},
	"doc6.test":            {"2001:db8::1"},
	"all-bad.test":         {"10.0.0.1", "::1"},
	"2130706433":           {"127.0.0.1"},
	"0x7f000001":           {"127.0.0.1"},
	"0x7f.1":               {"127.0.0.1"},
	"127.1":                {"127.0.0.1"},
	"017700000001":         {"127.0.0.1"},
	"0177.0.0.1":           {"127.0.0.1"},
	"127.0.0.01":           {"127.0.0.1"},
	"0x7f.0x0.0x0.0x1":     {"127.0.0.1"},
	// public
	"hooks.example.com":   {"93.184.216.34"},
	"hosts-file.test":     {"::ffff:93.184.216.34"}, // F23
	"v6.example.com":      {"2606:2800:220:1::1"},
	"dual.example.com":    {"93.184.216.34", "2606:2800:220:1::1"},
	"mixed.example.com":   {"93.184.216.34", "10.0.0.1"},
	"mapped-lo.localhost": {"93.184.216.34"}, // never asked: .localhost is loopback
}

// blockedHosts are URL hosts (as written in a URL) the production policy
// must refuse at creation and at dial time.
var blockedHosts = []string{
	// IPv6 zone identifiers (F6, review probe E5)
	"[::1%25lo]", "[::1%25eth0]", "[::%25lo]", "[fe80::1%25lo]", "[fd00:ec2::254%25eth0]",
	"[::ffff:127.0.0.1%25lo]", "[2606:2800:220:1::1%25eth0]",
	// literals in every blocked range
	"127.0.0.1", "127.255.255.254", "[::1]", "[0:0:0:0:0:0:0:1]", "0.0.0.0", "[::]",
	"10.0.0.5", "172.16.0.1", "172.31.255.255", "192.168.0.1", "169.254.169.254", "[fd00:ec2::254]",
	"100.64.0.1", "100.127.255.254", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1",
	"192.0.0.170", "192.0.2.1", "198.18.0.1", "198.51.100.1", "203.0.113.1", "192.88.99.1",
	"[fe80::1]", "[fec0::1]", "[fc00::1]", "[ff02::1]", "[100::1]", "[2001:db8::1]",
	// IPv4-mapped: judged as IPv4 (F23)
	"[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:7f00:1]", "[::ffff:10.0.0.1]",
	"[::ffff:169.254.169.254]",
	// IPv4-compatible, 6to4, NAT64, Teredo
	"[::127.0.0.1]", "[::7f00:1]", "[::a00:1]", "[::8.8.8.8]",
	"[2002:7f00:1::]", "[2002:a9fe:a9fe::1]",
	"[64:ff9b::7f00:1]", "[64:ff9b::a9fe:a9fe]", "[64:ff9b:1::a00:1]",
	"[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "[2001::1]",
	// spellings of 127.0.0.1 that inet_aton and browsers accept
	"2130706433", "0x7f000001", "0x7f.1", "127.1", "017700000001", "0177.0.0.1", "127.0.0.01",
	"0x7f.0x0.0x0.0x1",
	// localhost names (RFC 6761)
	"localhost", "LOCALHOST", "localhost.", "foo.localhost", "mapped-lo.localhost",
	// names resolving to each blocked range
	"loopback.test", "loopback8.test", "loopback6.test", "vm", "private10.test", "private172.test",
	"private192.test", "metadata.test", "metadata-mapped.test", "cgnat.test", "alibaba-meta.test",
	"unspecified.test", "unspecified6.test", "multicast.test", "multicast6.test", "broadcast.test",
	"reserved.test", "ietf.test", "docs.test", "bench.test", "ula.test", "linklocal6.test",
	"sitelocal.test", "compat.test", "6to4.test", "nat64.test", "nat64local.test", "teredo.test",
	"doc6.test", "all-bad.test",
	// names that resolve to nothing
	"nowhere.test",
}

var allowedHosts = []string{
	"93.184.216.34", "[2606:2800:220:1::1]", "[::ffff:93.184.216.34]",
	"hooks.example.com", "hosts-file.test", "v6.example.com", "dual.example.com",
}

// recorder is a dialer whose socket hook notes each address the kernel
// would connect to and stops there, so no test touches the network.
type recorder struct {
	mu    sync.Mutex
	addrs []string
}

var errStopped = errors.New("stopped before connect")

func (r *recorder) dialer() *net.Dialer {
	return &net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.addrs = append(r.addrs, address)
		return errStopped
	}}
}

func dialHostPort(t *testing.T, host string) string {
	t.Helper()
	u, err := url.Parse("https://" + host + "/x")
	if err != nil {
		t.Fatalf("parse %s: %v", host, err)
	}
	return net.JoinHostPort(u.Hostname(), "443") // as http.Transport does
}

func TestCorpus_RefusedAtCreation(t *testing.T) {
	prod := safehttp.Policy{Resolver: corpusDNS}
	for _, host := range blockedHosts {
		t.Run(host, func(t *testing.T) {
			err := prod.CheckURL(context.Background(), "https://"+host+"/x")
			if err == nil {
				t.Fatalf("https://%s/x accepted in production", host)
			}
			// F17: the client sees no address the name resolved to; the
			// server log (Detail) does.
			ips := corpusDNS[host]
			logged := false
			for _, ip := range ips {
				a := netip.MustParseAddr(ip)
				for _, s := range []string{a.String(), a.Unmap().String()} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("message %q names the resolved address %s", err, s)
					}
				}
				logged = logged || strings.Contains(safehttp.Detail(err), a.String())
			}
			if (strings.HasSuffix(host, ".test") || host == "vm") && len(ips) > 0 && !logged {
				t.Errorf("detail %q names none of %v", safehttp.Detail(err), ips)
			}
		})
	}
}

func TestCorpus_RefusedAtDialTime(t *testing.T) {
	prod := safehttp.Policy{Resolver: corpusDNS}
	for _, host := range blockedHosts {
		t.Run(host, func(t *testing.T) {
			rec := &recorder{}
			conn, err := prod.DialWith(rec.dialer())(context.Background(), "tcp", dialHostPort(t, host))
			if conn != nil {
				conn.Close()
			}
			if len(rec.addrs) != 0 {
				t.Fatalf("dialed %v", rec.addrs)
			}
			if err == nil {
				t.Fatal("dial succeeded")
			}
			if host == "nowhere.test" {
				if c := safehttp.Classify(err); c != "dns" {
					t.Fatalf("class %s, want dns (%v)", c, err)
				}
				return
			}
			if c := safehttp.Classify(err); c != "blocked_target" {
				t.Fatalf("class %s, want blocked_target (%v)", c, err)
			}
			if got := safehttp.Describe(err); got != "blocked target: not a public address" {
				t.Fatalf("Describe = %q", got)
			}
		})
	}
}

// TestCorpus_RefusedByControlHook checks the last line: the socket's peer
// address, for every address the corpus dials or resolves to.
func TestCorpus_RefusedByControlHook(t *testing.T) {
	prod := safehttp.Policy{Resolver: corpusDNS}
	for _, host := range blockedHosts {
		u, _ := url.Parse("https://" + host + "/x")
		addrs := corpusDNS[u.Hostname()]
		if _, err := netip.ParseAddr(u.Hostname()); err == nil {
			addrs = []string{u.Hostname()}
		}
		if strings.HasSuffix(strings.TrimSuffix(strings.ToLower(host), "."), "localhost") {
			addrs = []string{"127.0.0.1", "::1"} // never resolved (RFC 6761)
		}
		for _, a := range addrs {
			address := net.JoinHostPort(a, "443")
			if err := prod.Control("tcp", address); safehttp.Classify(err) != "blocked_target" {
				t.Errorf("%s (%s): Control = %v, want blocked", host, address, err)
			}
		}
	}
	for _, address := range []string{"not-an-address:443", "[::1%lo]:443", "127.0.0.1%lo:443"} {
		if err := prod.Control("tcp", address); safehttp.Classify(err) != "blocked_target" {
			t.Errorf("Control(%s) = %v, want blocked", address, err)
		}
	}
}

func TestCorpus_PublicAllowed(t *testing.T) {
	prod := safehttp.Policy{Resolver: corpusDNS}
	for _, host := range allowedHosts {
		t.Run(host, func(t *testing.T) {
			if err := prod.CheckURL(context.Background(), "https://"+host+"/x"); err != nil {
				t.Fatalf("CheckURL: %v", err)
			}
			rec := &recorder{}
			_, err := prod.DialWith(rec.dialer())(context.Background(), "tcp", dialHostPort(t, host))
			if !errors.Is(err, errStopped) || len(rec.addrs) == 0 {
				t.Fatalf("dial did not reach the socket: %v, %v", err, rec.addrs)
			}
			for _, address := range rec.addrs {
				if err := prod.Control("tcp", address); err != nil {
					t.Errorf("Control(%s) = %v", address, err)
				}
				// IPv4-mapped answers are dialed as plain IPv4.
				if strings.Contains(address, "::ffff:") {
					t.Errorf("dialed %s, want the unmapped form", address)
				}
			}
		})
	}
}

// A name with one public and one internal address is refused at creation;
// at dial time only the public one is ever dialed.
func TestCorpus_MixedAnswersDialOnlyPublic(t *testing.T) {
	prod := safehttp.Policy{Resolver: corpusDNS}
	if err := prod.CheckURL(context.Background(), "https://mixed.example.com/x"); err == nil {
		t.Fatal("mixed answers accepted at creation")
	}
	rec := &recorder{}
	_, _ = prod.DialWith(rec.dialer())(context.Background(), "tcp", "mixed.example.com:443")
	if len(rec.addrs) != 1 || rec.addrs[0] != "93.184.216.34:443" {
		t.Fatalf("dialed %v, want only the public address", rec.addrs)
	}
}
