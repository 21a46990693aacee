package outbound_test

import (
	"context"
	"crypto/x509"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/apitest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/outbound"
)

// fakeDNS stands in for the internet's DNS, the one external boundary here.
type fakeDNS struct {
	mu    sync.Mutex
	names map[string]string
}

func (d *fakeDNS) set(name, ip string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.names[name] = ip
}

func (d *fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ip, ok := d.names[host]
	if !ok {
		return nil, &notFound{host}
	}
	return []netip.Addr{netip.MustParseAddr(ip)}, nil
}

type notFound struct{ host string }

func (e *notFound) Error() string { return "no such host " + e.host }

func productionFixture(t *testing.T, dns *fakeDNS, roots *x509.CertPool, allow string) *fixture {
	opts := []apitest.Option{
		apitest.WithEnv("HOOKLINE_MODE", "production"),
		apitest.WithOutbound(func(o *outbound.Options) {
			o.Policy.Resolver = dns
			o.Policy.RootCAs = roots
		}),
	}
	if allow != "" {
		opts = append(opts, apitest.WithEnv("HOOKLINE_ALLOW_TARGETS", allow))
	}
	return newFixture(t, opts...)
}

func TestProduction_RefusesUnsafeTargetsAtCreation(t *testing.T) {
	t.Parallel()
	dns := &fakeDNS{names: map[string]string{
		"hooks.example.com":    "93.184.216.34",
		"internal.example.com": "10.1.2.3",
		"loop.example.com":     "127.0.0.1",
		"meta.example.com":     "169.254.169.254",
		"v6.example.com":       "fd00::1",
		"mapped.example.com":   "::ffff:127.0.0.1",
	}}
	f := productionFixture(t, dns, nil, "")
	// A literal address may be named with its range (the client gave it);
	// a host name never reveals what it resolves to (F17): names that
	// resolve inside read the same as names that do not resolve.
	tests := []struct{ url, want, hidden string }{
		{"http://hooks.example.com/x", "https", ""},
		{"https://127.0.0.1/x", "loopback", ""},
		{"https://[::1]/x", "loopback", ""},
		{"https://localhost:8443/x", "loopback", ""},
		{"https://10.0.0.5/x", "private", ""},
		{"https://169.254.169.254/latest/meta-data", "link-local", ""},
		{"https://100.64.0.1/x", "carrier-grade NAT", ""},
		{"https://224.0.0.1/x", "multicast", ""},
		{"https://0.0.0.0/x", "unspecified", ""},
		{"https://[fe80::1]/x", "link-local", ""},
		{"https://[::ffff:10.0.0.1]/x", "private", ""},
		{"https://internal.example.com/x", "does not resolve to a public address", "10.1.2.3"},
		{"https://loop.example.com/x", "does not resolve to a public address", "127.0.0.1"},
		{"https://meta.example.com/x", "does not resolve to a public address", "169.254"},
		{"https://v6.example.com/x", "does not resolve to a public address", "fd00"},
		{"https://mapped.example.com/x", "does not resolve to a public address", "ffff"},
		{"https://nowhere.example.com/x", "does not resolve", ""},
		{"https://user:pw@hooks.example.com/x", "credentials", ""},
		{"ftp://hooks.example.com/x", "https", ""},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			r := f.With(t).Do("POST", "/v1/webhooks", f.acct.Key, map[string]any{"name": "x", "url": tc.url, "events": []string{"customer.created"}}).Want(422)
			if !strings.Contains(string(r.Body), `"field":"url"`) || !strings.Contains(string(r.Body), tc.want) {
				t.Fatalf("body %s does not name the reason %q", r.Body, tc.want)
			}
			if tc.hidden != "" && strings.Contains(string(r.Body), tc.hidden) {
				t.Fatalf("body %s names the internal address %q", r.Body, tc.hidden)
			}
		})
	}
	f.Do("POST", "/v1/webhooks", f.acct.Key, map[string]any{"name": "ok", "url": "https://hooks.example.com/x", "events": []string{"customer.created"}}).Want(201)
}

func TestProduction_ChecksAtDialTime(t *testing.T) {
	t.Parallel()
	dns := &fakeDNS{names: map[string]string{"hooks.example.com": "93.184.216.34"}}
	f := productionFixture(t, dns, nil, "")
	var w webhookJSON
	f.Do("POST", "/v1/webhooks", f.acct.Key, map[string]any{"name": "x", "url": "https://hooks.example.com/x", "events": []string{"customer.created"}, "retry_schedule": []string{}}).Want(201).JSON(&w)
	// DNS changes after creation: the name now points inside.
	dns.set("hooks.example.com", "127.0.0.1")
	f.Do("POST", "/v1/webhooks/"+w.ID+"/test", f.acct.Key, nil).Want(202)
	d := f.waitStatus(t, w.ID, "webhook.test", "failed", 10*time.Second)
	// The log says it was blocked, never where the name pointed (F17).
	if a := d.AttemptLog[0]; a.ErrorClass != "blocked_target" || a.Error != "blocked target: not a public address" {
		t.Fatalf("attempt %+v, want blocked_target without the address", a)
	}
	if raw := f.Do("GET", "/v1/deliveries/"+d.ID, f.acct.Key, nil).Want(200).Body; strings.Contains(string(raw), "127.0.0.1") {
		t.Fatalf("the delivery log names the internal address: %s", raw)
	}
}

func TestProduction_AllowTargetsAndNoRedirects(t *testing.T) {
	t.Parallel()
	internal := receiver.NewTLS(t)
	recv := receiver.NewTLS(t, receiver.Reply{Status: 200}, receiver.Reply{Status: 307, Headers: map[string]string{"Location": internal.URL + "/admin"}})
	roots := x509.NewCertPool()
	roots.AddCert(recv.Certificate())
	dns := &fakeDNS{names: map[string]string{}}
	// HOOKLINE_ALLOW_TARGETS opens 127.0.0.1 to this production gateway.
	f := productionFixture(t, dns, roots, "127.0.0.1/32")
	var w webhookJSON
	f.Do("POST", "/v1/webhooks", f.acct.Key, map[string]any{"name": "x", "url": recv.URL + "/in", "events": []string{"customer.created"}, "retry_schedule": []string{}}).Want(201).JSON(&w)
	f.activate(t, w.ID)
	f.waitStatus(t, w.ID, "webhook.test", "delivered", 10*time.Second)
	// The second answer redirects to another local service: not followed.
	f.createCustomer(t, "ann@example.com")
	d := f.waitStatus(t, w.ID, "customer.created", "failed", 10*time.Second)
	if d.AttemptLog[0].ErrorClass != "redirect" || internal.Count() != 0 {
		t.Fatalf("attempt %+v; internal hits %d", d.AttemptLog[0], internal.Count())
	}
	// http stays refused in production even for allowed ranges.
	f.Do("POST", "/v1/webhooks", f.acct.Key, map[string]any{"name": "x", "url": "http://127.0.0.1:9/x", "events": []string{"customer.created"}}).Want(422)
}
