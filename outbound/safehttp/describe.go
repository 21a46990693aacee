package safehttp

// This file turns transport errors into words: the class for the delivery
// log (Classify), a sentence fit for clients that names no address
// (Describe), and the specifics for the server log (Detail).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Classify names the kind of a transport error for the delivery log:
// timeout, dns, tls, blocked_target, connection; "" for nil.
func Classify(err error) string {
	if err == nil {
		return ""
	}
	var be *BlockedError
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &be):
		return "blocked_target"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &dnsErr):
		return "dns"
	case isTLS(err):
		return "tls"
	}
	return "connection"
}

func isTLS(err error) bool {
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	return isCert(err) || errors.As(err, &recordErr) || errors.As(err, &alert) || strings.Contains(err.Error(), "tls:")
}

func isCert(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &certErr) || errors.As(err, &unknown) || errors.As(err, &hostErr) ||
		errors.As(err, &invalid) || strings.Contains(err.Error(), "x509:")
}

// Describe turns an error from the client (Do, a dial, CheckAddr) into a
// short phrase fit for clients and the delivery log. It names no address,
// host, port or DNS answer, and is one of: "blocked target: not a public
// address", "timeout", "DNS lookup failed", "TLS certificate verification
// failed", "TLS handshake failed", "connection refused", "connection reset",
// "network unreachable", "host unreachable", "connection closed by the
// receiver", "request canceled", "connection failed". Describe(nil) is "".
// Its first word or two follow Classify's class; Detail has the specifics.
func Describe(err error) string {
	if err == nil {
		return ""
	}
	switch Classify(err) {
	case "blocked_target":
		// The range would tell which kind of internal address a name
		// resolves to; the server log has it (Detail).
		return "blocked target: not a public address"
	case "timeout":
		return "timeout"
	case "dns":
		return "DNS lookup failed"
	case "tls":
		if isCert(err) {
			return "TLS certificate verification failed"
		}
		return "TLS handshake failed"
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the receiver"
	case errors.Is(err, context.Canceled):
		return "request canceled"
	}
	return "connection failed"
}

// Detail returns the specific reason behind err for the server log: the
// address a blocked host resolved to, the DNS answer, the dial string. Never
// show it to clients. For an error of another kind it is err.Error().
func Detail(err error) string {
	if err == nil {
		return ""
	}
	var d interface{ Detail() string }
	if errors.As(err, &d) {
		return d.Detail()
	}
	return err.Error()
}
