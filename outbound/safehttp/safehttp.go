// Package safehttp is the HTTP client deliveries use. It refuses targets that
// are, or resolve to, addresses a gateway must not reach from the public
// internet: anything that is not public unicast (loopback, private,
// link-local and cloud metadata, CGNAT, multicast, broadcast, unspecified,
// documentation and reserved ranges, IPv6 unique-local and site-local, and
// the IPv6 forms that embed an IPv4 address: IPv4-compatible, 6to4, Teredo and
// NAT64), and any address with an IPv6 zone. IPv4-mapped IPv6 addresses are
// judged as the IPv4 address they carry. It checks the exact address it
// dials, so a DNS change after creation cannot slip past, and never follows
// redirects: a 3xx is returned as the response.
//
// Errors meant for clients name no address a host resolved to: CheckURL's
// errors are sentences fit for a 422, and Describe turns a transport error
// into a short phrase fit for the delivery log. Detail gives the full story
// for the server log.
package safehttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
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
	// AllowPrivate allows every address range (development mode). Addresses
	// with an IPv6 zone stay refused.
	AllowPrivate bool
	// Allow opens specific ranges even in production (HOOKLINE_ALLOW_TARGETS).
	// An IPv4 range also opens the IPv4-mapped form of its addresses.
	Allow []netip.Prefix
	// Resolver looks names up, at creation and at dial time. Nil means
	// net.DefaultResolver.
	Resolver Resolver
	// RootCAs, when set, replaces the system roots (tests with local TLS).
	RootCAs *x509.CertPool
}

// Resolver is the part of *net.Resolver the policy needs.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// BlockedError says a target address was refused. Reason names the kind of
// range ("a loopback address") and never the address itself, so Error is
// safe to show; Detail adds the address, for the server log only.
type BlockedError struct {
	Reason string
	addr   string // the refused address or host, as seen; never shown to clients
}

func (e *BlockedError) Error() string { return "blocked target: " + e.Reason }

// Detail is Error plus the refused address, for the server log.
func (e *BlockedError) Detail() string {
	if e.addr == "" {
		return e.Error()
	}
	return "blocked target: " + e.addr + " is " + e.Reason
}

// TargetError is CheckURL's refusal. Error is a sentence fit for a 422 field
// message: it may name the host the client gave, never an address that host
// resolved to, and a name that does not resolve reads the same as one that
// resolves only to internal addresses. Detail keeps the specific reason for the
// server log.
type TargetError struct {
	msg    string
	detail string
	cause  error
}

func (e *TargetError) Error() string { return e.msg }

// Detail is the specific reason, for the server log.
func (e *TargetError) Detail() string {
	if e.detail == "" {
		return e.msg
	}
	return e.detail
}

// Unwrap returns the *BlockedError behind the refusal, if any.
func (e *TargetError) Unwrap() error { return e.cause }

// ranges are refused unless opened by Policy.Allow or AllowPrivate. The first
// match names the reason, so narrower ranges come before wider ones. IPv6
// outside 2000::/3 is refused after this list as reserved.
var ranges = []struct {
	prefix netip.Prefix
	name   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address (cloud metadata lives here)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved address"},
	{netip.MustParsePrefix("::/128"), "unspecified address"},
	{netip.MustParsePrefix("::1/128"), "loopback address"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "IPv4-mapped address"}, // unreachable after Unmap; kept as a backstop
	{netip.MustParsePrefix("::/96"), "IPv4-compatible address"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64 address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "discard-only address"},
	{netip.MustParsePrefix("2001::/32"), "Teredo address"},
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking address"},
	{netip.MustParsePrefix("2001:10::/28"), "ORCHID address"},
	{netip.MustParsePrefix("2001:20::/28"), "ORCHID address"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation address"},
	{netip.MustParsePrefix("2002::/16"), "6to4 address"},
	{netip.MustParsePrefix("3fff::/20"), "documentation address"},
	{netip.MustParsePrefix("fc00::/7"), "IPv6 unique-local address"},
	{netip.MustParsePrefix("fe80::/10"), "IPv6 link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "IPv6 site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "multicast address"},
}

var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// article puts "a" or "an" before a range name.
func article(name string) string {
	if strings.ContainsRune("aeiouAEIOU", rune(name[0])) {
		return "an " + name
	}
	return "a " + name
}

// CheckAddr returns a *BlockedError when the policy forbids addr. An address
// with an IPv6 zone is always refused; an IPv4-mapped address is judged as
// the IPv4 address it carries.
func (p Policy) CheckAddr(addr netip.Addr) error {
	if !addr.IsValid() {
		return &BlockedError{Reason: "not an IP address"}
	}
	if addr.Zone() != "" {
		// netip.Prefix.Contains is false for every zoned address, so a zone
		// would slip past every range below; no delivery needs one.
		return &BlockedError{Reason: zoned, addr: addr.String()}
	}
	a := addr.Unmap()
	for _, allow := range p.Allow {
		if allow.Contains(a) || allow.Contains(addr) {
			return nil
		}
	}
	if p.AllowPrivate {
		return nil
	}
	name := ""
	for _, r := range ranges {
		if r.prefix.Contains(a) {
			name = r.name
			break
		}
	}
	if name == "" && a.Is6() && !globalUnicast6.Contains(a) {
		name = "reserved address"
	}
	if name == "" {
		return nil
	}
	if addr.Is4In6() {
		name = "IPv4-mapped " + name
	}
	return &BlockedError{Reason: article(name), addr: addr.String()}
}

func (p Policy) resolver() Resolver {
	if p.Resolver != nil {
		return p.Resolver
	}
	return net.DefaultResolver
}

var loopbacks = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}

// Reasons parseHost refuses a host for.
const (
	zoned      = "an IPv6 address with a zone"
	nonDecimal = "a non-standard IPv4 address"
)

// parseHost reads a URL or dial host the way the gateway treats it. It
// returns the addresses of an IP literal or of a localhost name, and
// resolve=true for a name to look up. A zone or a non-standard IPv4
// spelling (2130706433, 0x7f.1, 127.1, 017700000001), which some resolvers
// and browsers read as an address, is refused with the reason.
func parseHost(host string) (addrs []netip.Addr, resolve bool, refused string) {
	if strings.Contains(host, "%") {
		return nil, false, zoned
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return []netip.Addr{a}, false, ""
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return loopbacks, false, ""
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if numeric(last) {
		return nil, false, nonDecimal
	}
	return nil, true, ""
}

// numeric says whether a label reads as a number (decimal, octal or 0x hex),
// which makes the whole host an IPv4 address to URL parsers (WHATWG) and to
// inet_aton; no top-level domain is numeric.
func numeric(label string) bool {
	if label == "" {
		return false
	}
	digits := "0123456789"
	if strings.HasPrefix(label, "0x") {
		label, digits = label[2:], "0123456789abcdef"
		if label == "" {
			return true
		}
	}
	return strings.Trim(label, digits) == ""
}

// CheckURL validates a target URL for creation: scheme, no credentials in
// the URL, and every address the host resolves to. Errors are sentences fit
// for a 422 that name no resolved address (see TargetError).
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	refuse := func(msg string) error { return &TargetError{msg: msg} }
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return refuse("must be an absolute URL such as https://example.com/hooks")
	}
	want := "must be an https URL"
	if p.AllowHTTP {
		want = "must be an http or https URL"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return refuse(want)
		}
	default:
		return refuse(want)
	}
	if u.User != nil {
		return refuse("must not contain credentials; use auth instead")
	}
	if u.Fragment != "" {
		return refuse("must not contain a #fragment")
	}
	host := u.Hostname()
	addrs, resolve, refused := parseHost(host)
	switch {
	case refused == zoned:
		return &TargetError{msg: "must not contain an IPv6 zone (%)", detail: "host " + host + " has a zone"}
	case refused != "":
		return &TargetError{msg: "must name a host or a standard IP address", detail: "host " + host + " is " + refused}
	case !resolve:
		// The client wrote the address (or localhost), so naming its range
		// tells nothing new.
		for _, a := range addrs {
			if err := p.CheckAddr(a); err != nil {
				var be *BlockedError
				errors.As(err, &be)
				return &TargetError{msg: "must not point to " + be.Reason, detail: be.Detail(), cause: be}
			}
		}
		return nil
	}
	unsafe := "host " + quote(host) + " does not resolve to a public address"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	found, err := p.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil || len(found) == 0 {
		if p.AllowPrivate {
			return nil // development: a name may appear later
		}
		detail := "host " + quote(host) + " does not resolve"
		if err != nil {
			detail += ": " + err.Error()
		}
		return &TargetError{msg: unsafe, detail: detail}
	}
	for _, a := range found {
		if err := p.CheckAddr(a); err != nil {
			var be *BlockedError
			errors.As(err, &be)
			return &TargetError{msg: unsafe, detail: "host " + quote(host) + " resolves to " + a.String() + ", " + be.Reason, cause: be}
		}
	}
	return nil
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// dial resolves the host itself and dials only allowed addresses, so the
// address checked is the address connected to.
func (p Policy) dial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		addrs, resolve, refused := parseHost(host)
		if refused != "" {
			return nil, &BlockedError{Reason: refused, addr: host}
		}
		if resolve {
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
			conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
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

// control is the dialer's second check, on the socket's actual peer address.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Reason: "not an IP address", addr: address}
	}
	return p.CheckAddr(ap.Addr())
}

// NewClient returns a client that enforces the policy at dial time, never
// follows redirects, ignores proxy settings (a proxy would hide the real
// target) and keeps connections alive per host.
func (p Policy) NewClient() *http.Client {
	d := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control:   p.control,
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
