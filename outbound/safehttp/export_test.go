package safehttp

import (
	"context"
	"net"
)

// DialWith exposes the dial path to the external tests, with a dialer the
// test controls.
func (p Policy) DialWith(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return p.dial(d)
}

// Control exposes the socket hook NewClient installs on its dialer.
func (p Policy) Control(network, address string) error { return p.control(network, address, nil) }
