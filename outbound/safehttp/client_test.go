package safehttp_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/outbound/safehttp"
)

// listener is a real HTTP server on a loopback address that counts every
// connection it accepts, so a test can prove nothing reached it.
type listener struct {
	*httptest.Server
	conns atomic.Int64
	port  string
}

func listen(t *testing.T, network, addr string) *listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	l := &listener{Server: httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))}
	l.Listener.Close()
	l.Listener = ln
	l.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			l.conns.Add(1)
		}
	}
	l.Start()
	t.Cleanup(l.Close)
	_, l.port, _ = net.SplitHostPort(ln.Addr().String())
	return l
}

func get(c *http.Client, raw string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return err
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	return nil
}

var loopDNS = fakeDNS{"rebind.test": {"127.0.0.1"}, "vm": {"::ffff:127.0.0.1"}, "compat.test": {"::127.0.0.1"}}

// The review's probe E5 through the real client: the production policy never
// opens a connection to a loopback listener, whatever the spelling, and its
// client-facing description names no address.
func TestClient_ProductionNeverConnectsToLoopback(t *testing.T) {
	v4 := listen(t, "tcp4", "127.0.0.1:0")
	c := safehttp.Policy{Resolver: loopDNS}.NewClient()
	for _, host := range []string{
		"127.0.0.1", "localhost", "rebind.test", "vm", "compat.test", "[::ffff:127.0.0.1]", "[::127.0.0.1]",
		"[::1%25lo]", "[::%25lo]", "[::ffff:127.0.0.1%25lo]", "[fe80::1%25lo]", "2130706433", "127.1", "0x7f.1",
	} {
		err := get(c, "http://"+host+":"+v4.port+"/")
		if safehttp.Classify(err) != "blocked_target" {
			t.Errorf("%s: %v, want blocked_target", host, err)
			continue
		}
		if d := safehttp.Describe(err); strings.Contains(d, "127.") || strings.Contains(d, v4.port) || strings.Contains(d, "::") {
			t.Errorf("%s: Describe = %q names an address", host, d)
		}
	}
	if n := v4.conns.Load(); n != 0 {
		t.Fatalf("%d connections reached the loopback listener", n)
	}
}

// Zone ids against a listener on [::1]: the exact bypass of F6, which used to
// reach the TLS handshake. Refused in production and in development alike.
func TestClient_ZoneIDsNeverConnect(t *testing.T) {
	v6 := listen(t, "tcp6", "[::1]:0")
	for name, p := range map[string]safehttp.Policy{
		"production":  {},
		"allow ::1":   {Allow: []netip.Prefix{netip.MustParsePrefix("::/0")}},
		"development": {AllowHTTP: true, AllowPrivate: true},
	} {
		c := p.NewClient()
		for _, host := range []string{"[::1%25lo]", "[::1%25eth0]", "[::%25lo]", "[::1%251]"} {
			if err := get(c, "http://"+host+":"+v6.port+"/"); safehttp.Classify(err) != "blocked_target" {
				t.Errorf("%s %s: %v, want blocked_target", name, host, err)
			}
		}
	}
	if n := v6.conns.Load(); n != 0 {
		t.Fatalf("%d connections reached the [::1] listener", n)
	}
}

// HOOKLINE_ALLOW_TARGETS and development mode still open what they open,
// through names and IPv4-mapped answers too.
func TestClient_AllowAndDevelopment(t *testing.T) {
	v4 := listen(t, "tcp4", "127.0.0.1:0")
	allow := safehttp.Policy{Resolver: loopDNS, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	dev := safehttp.Policy{Resolver: loopDNS, AllowHTTP: true, AllowPrivate: true}
	for name, p := range map[string]safehttp.Policy{"allow": allow, "development": dev} {
		c := p.NewClient()
		for _, host := range []string{"127.0.0.1", "rebind.test", "vm", "[::ffff:127.0.0.1]"} {
			if err := get(c, "http://"+host+":"+v4.port+"/"); err != nil {
				t.Errorf("%s %s: %v", name, host, err)
			}
		}
		if err := p.CheckURL(context.Background(), "https://vm/x"); err != nil {
			t.Errorf("%s: CheckURL(vm) = %v", name, err)
		}
	}
	if err := dev.CheckURL(context.Background(), "http://localhost:8080/x"); err != nil {
		t.Errorf("development: CheckURL(localhost) = %v", err)
	}
	if v4.conns.Load() == 0 {
		t.Fatal("no connection reached the allowed listener")
	}
}

func TestDescribe_NamesNoAddress(t *testing.T) {
	open := safehttp.Policy{Resolver: loopDNS, AllowHTTP: true, AllowPrivate: true}
	closed := listen(t, "tcp4", "127.0.0.1:0")
	closed.Close()

	tarpit, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tarpit.Close()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()

	slow := open.NewClient()
	slow.Timeout = 200 * time.Millisecond
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused", get(open.NewClient(), "http://rebind.test:"+closed.port+"/"), "connection refused"},
		{"timeout", get(slow, "http://"+tarpit.Addr().String()+"/"), "timeout"},
		{"dns", get(open.NewClient(), "http://internal-only.corp:80/"), "DNS lookup failed"},
		{"tls", get(open.NewClient(), tlsSrv.URL), "TLS certificate verification failed"},
		{"blocked", get(safehttp.Policy{Resolver: loopDNS}.NewClient(), "https://vm/"), "blocked target: not a public address"},
	}
	for _, tc := range tests {
		got := safehttp.Describe(tc.err)
		if got != tc.want {
			t.Errorf("%s: Describe = %q, want %q (error %v)", tc.name, got, tc.want, tc.err)
		}
		for _, leak := range []string{"127.", "::", "internal-only", "vm", closed.port} {
			if strings.Contains(got, leak) {
				t.Errorf("%s: Describe = %q contains %q", tc.name, got, leak)
			}
		}
		if !strings.Contains(safehttp.Detail(tc.err), " ") {
			t.Errorf("%s: Detail = %q", tc.name, safehttp.Detail(tc.err))
		}
	}
	if safehttp.Describe(nil) != "" {
		t.Error("Describe(nil) is not empty")
	}
}
