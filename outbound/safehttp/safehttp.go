// Package safehttp is the HTTP client deliveries use. It refuses targets that
// are, or resolve to, addresses a gateway must not reach from the public
// internet (loopback, private, link-local and cloud metadata, CGNAT,
// multicast, unspecified, IPv6 unique-local and IPv4-mapped), checking the
// exact address it dials, so a DNS change after creation cannot slip past.
// It never follows redirects: a 3xx is returned as the response.
package safehttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Policy says which targets are allowed.
type Policy struct {
	// AllowHTTP allows http:// targets (development mode).
	AllowHTTP bool
	// AllowPrivate allows every address range (development mode).
	AllowPrivate bool
	// Allow opens specific ranges even in production (HOOKLINE_ALLOW_TARGETS).
	Allow []netip.Prefix
	// Resolver looks names up. Nil means net.DefaultResolver.
	Resolver Resolver
	// RootCAs, when set, replaces the system roots (tests with local TLS).
	RootCAs *x509.CertPool
}

// Resolver is the part of *net.Resolver the policy needs.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// BlockedError says why a target was refused.
type BlockedError struct{ Reason string }

func (e *BlockedError) Error() string { return "blocked target: " + e.Reason }

var blocked = []struct {
	prefix netip.Prefix
	name   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address (cloud metadata lives here)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "an IPv4-mapped address"},
	{netip.MustParsePrefix("64:ff9b::/96"), "a NAT64 address"},
	{netip.MustParsePrefix("fc00::/7"), "an IPv6 unique-local address"},
	{netip.MustParsePrefix("fe80::/10"), "an IPv6 link-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// CheckAddr returns a *BlockedError when the policy forbids addr.
func (p Policy) CheckAddr(addr netip.Addr) error {
	for _, a := range p.Allow {
		if a.Contains(addr.Unmap()) || a.Contains(addr) {
			return nil
		}
	}
	if p.AllowPrivate {
		return nil
	}
	for _, b := range blocked {
		if b.prefix.Contains(addr) {
			return &BlockedError{Reason: addr.String() + " is " + b.name}
		}
	}
	if addr.Is4() && addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return &BlockedError{Reason: "the broadcast address"}
	}
	return nil
}

func (p Policy) resolver() Resolver {
	if p.Resolver != nil {
		return p.Resolver
	}
	return net.DefaultResolver
}

// CheckURL validates a target URL for creation: scheme, no credentials in
// the URL, and every address the host resolves to. Errors are sentences fit
// for a 422.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute URL such as https://example.com/hooks")
	}
	want := "must be an https URL"
	if p.AllowHTTP {
		want = "must be an http or https URL"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return errors.New(want)
		}
	default:
		return errors.New(want)
	}
	if u.User != nil {
		return errors.New("must not contain credentials; use auth instead")
	}
	if u.Fragment != "" {
		return errors.New("must not contain a #fragment")
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(addr)
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return p.CheckAddr(netip.MustParseAddr("127.0.0.1"))
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := p.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		if p.AllowPrivate {
			return nil // development: a name may appear later
		}
		return fmt.Errorf("host %q does not resolve", host)
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return fmt.Errorf("host %q resolves to %s", host, strings.TrimPrefix(err.Error(), "blocked target: "))
		}
	}
	return nil
}

// dial resolves the host itself and dials only allowed addresses, so the
// address checked is the address connected to.
func (p Policy) dial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{a}
		} else {
			addrs, err = p.resolver().LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, &net.DNSError{Err: err.Error(), Name: host, IsNotFound: true}
			}
		}
		var firstErr error
		for _, a := range addrs {
			if err := p.CheckAddr(a); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
			if err == nil {
				return conn, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if firstErr == nil {
			firstErr = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		return nil, firstErr
	}
}

// NewClient returns a client that enforces the policy at dial time, never
// follows redirects, ignores proxy settings (a proxy would hide the real
// target) and keeps connections alive per host.
func (p Policy) NewClient() *http.Client {
	d := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		// A second check on the socket's actual peer address.
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			return p.CheckAddr(ap.Addr())
		},
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           p.dial(d),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: p.RootCAs},
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Classify names the kind of a transport error for the delivery log:
// timeout, dns, tls, blocked_target, connection.
func Classify(err error) string {
	var be *BlockedError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var ne net.Error
	switch {
	case errors.As(err, &be):
		return "blocked_target"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &certErr), errors.As(err, &recordErr), strings.Contains(err.Error(), "tls:"), strings.Contains(err.Error(), "x509:"):
		return "tls"
	}
	return "connection"
}
