// Package securitytest is Hookline's security test corpus: cross-tenant id
// swapping on every resource and the permission table of every /v1 route,
// driven through the whole app (internal/apitest) against a real Redis. The
// SSRF target corpus lives beside the client it tests, in outbound/safehttp.
package securitytest

import (
	"os"
	"testing"

	"github.com/hookline/hookline/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
