package topologytest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/redistest"
)

// A master that answers PING but refuses writes (min-replicas-to-write not
// met: with one replica, from a failover until the old master rejoins) is a
// gap: /readyz answers 503, and a write answers 503 unavailable, not 500. Both were 200 and 500 before (NOREPLICAS was not
// known as "not now", and /readyz only sent PING).
func TestMasterRefusingWrites_ReadyzAndWritesAnswer503(t *testing.T) {
	n := redistest.StartNode(t)
	g := newGateway(t, "redis://"+n.Addr()+"/0")
	if st, body := g.try("GET", "/readyz", nil); st != http.StatusOK {
		t.Fatalf("readyz on a healthy node = %d %s", st, body)
	}
	ctx := context.Background()
	c := n.Client(t)
	if err := c.ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING on a master refusing writes: %v; want PONG (what the old readyz trusted)", err)
	}
	if st, body := g.try("GET", "/readyz", nil); st != http.StatusServiceUnavailable {
		t.Fatalf("readyz while the master refuses writes = %d %s, want 503", st, body)
	}
	st, body := g.try("POST", "/v1/customers", map[string]any{"name": "Bo", "email": "bo@example.com"})
	if st != http.StatusServiceUnavailable || !strings.Contains(string(body), `"unavailable"`) {
		t.Fatalf("POST /v1/customers while the master refuses writes = %d %s, want 503 unavailable", st, body)
	}
	if err := c.ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if st, body := g.try("GET", "/readyz", nil); st != http.StatusOK {
		t.Fatalf("readyz once writes are taken again = %d %s", st, body)
	}
	if st, body := g.try("POST", "/v1/customers", map[string]any{"name": "Bo", "email": "bo@example.com"}); st != http.StatusCreated {
		t.Fatalf("POST /v1/customers once writes are taken again = %d %s, want 201", st, body)
	}
}
