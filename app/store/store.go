// Package store opens Hookline's Redis connection and builds every Redis key
// Hookline writes (keys.go). Redis is the system of record.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable wraps every error of a Redis command that could not reach
// Redis (refused or reset connection, network timeout, closed client,
// exhausted pool), so callers can tell "Redis is down, retry" (a 503) from
// a bug. Clients made by Open carry it.
var ErrUnavailable = errors.New("redis unavailable")

// unavailableHook marks connection failures with ErrUnavailable. Redis's
// own error replies (redis.Error: NOSCRIPT, WRONGTYPE, …) and redis.Nil
// pass through unchanged.
type unavailableHook struct{}

// DialHook also keeps a refused connection (Redis's host is up, its
// server is not: a restart, a failover's old master) from counting toward
// go-redis's dial circuit breaker. Once a pool has PoolSize failed dials the
// breaker answers every dial with the last error and probes Redis only once
// a second, so writes kept failing for up to a second after Redis was back.
// A refused dial is cheap to repeat, so it is handed to the pool as a
// connection that fails its first read or write with the same error: the
// command fails as fast as before, marked ErrUnavailable, and the first
// command after Redis returns dials it for real. Dial timeouts (an
// unreachable host) still count, so the breaker keeps commands from each
// waiting out DialTimeout while a host is gone.
func (unavailableHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil && errors.Is(err, syscall.ECONNREFUSED) {
			return refusedConn{err: markUnavailable(err)}, nil
		}
		return c, markUnavailable(err)
	}
}

// refusedConn stands for a dial that was refused: every read and write
// fails with that error, so the pool discards it at once.
type refusedConn struct{ err error }

func (c refusedConn) Read([]byte) (int, error)         { return 0, c.err }
func (c refusedConn) Write([]byte) (int, error)        { return 0, c.err }
func (c refusedConn) Close() error                     { return nil }
func (c refusedConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c refusedConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c refusedConn) SetDeadline(time.Time) error      { return nil }
func (c refusedConn) SetReadDeadline(time.Time) error  { return nil }
func (c refusedConn) SetWriteDeadline(time.Time) error { return nil }

func (unavailableHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return markUnavailable(next(ctx, cmd))
	}
}

func (unavailableHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return markUnavailable(next(ctx, cmds))
	}
}

func markUnavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	var ne net.Error
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.As(err, &ne) || transientReply(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// transientReply reports Redis's own answers that mean "not now": still
// loading its AOF after a restart, a replica or an old master during a
// failover, a master short of the replicas min-replicas-to-write asks for
// (until the old master rejoins after a failover), a cluster re-sharding,
// memory full under noeviction. The write did not happen; a retry will
// succeed once the condition passes. EXECABORT is a MULTI whose queued
// commands were refused: go-redis drops the queued commands' own replies
// (LOADING, OOM, …), so the abort is all there is to go on. The soak saw
// it right after Redis restarts, while the AOF loaded; a malformed command
// would abort the same way, but every transaction runs in the tests.
func transientReply(err error) bool {
	for _, prefix := range []string{"LOADING", "READONLY", "MASTERDOWN", "NOREPLICAS", "CLUSTERDOWN", "TRYAGAIN",
		"OOM", "EXECABORT"} {
		if redis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}

// Open returns a UniversalClient for a Redis URL. Three forms are accepted:
//
//	redis://[user:pass@]host:port/db         one node (rediss:// for TLS)
//	redis+sentinel://[user:pass@]h1:p1/db?master_name=NAME&addr=h2:p2
//	redis+cluster://[user:pass@]h1:p1?addr=h2:p2
//
// The sentinel and cluster forms take go-redis's query parameters. Open does
// not contact Redis.
func Open(rawURL string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("must look like redis://host:port/db")
	}
	base, kind, _ := strings.Cut(scheme, "+")
	if base != "redis" && base != "rediss" {
		return nil, fmt.Errorf("scheme %q: use redis, rediss, redis+sentinel or redis+cluster", scheme)
	}
	u := base + "://" + rest
	switch kind {
	case "":
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, err
		}
		c := redis.NewClient(o)
		c.AddHook(unavailableHook{})
		return c, nil
	case "sentinel":
		o, err := redis.ParseFailoverURL(u)
		if err != nil {
			return nil, err
		}
		if o.MasterName == "" {
			return nil, errors.New("a sentinel URL needs ?master_name=NAME")
		}
		c := redis.NewFailoverClient(o)
		c.AddHook(unavailableHook{})
		return c, nil
	case "cluster":
		o, err := redis.ParseClusterURL(u)
		if err != nil {
			return nil, err
		}
		c := redis.NewClusterClient(o)
		c.AddHook(unavailableHook{})
		return c, nil
	default:
		return nil, fmt.Errorf("scheme %q: use redis, rediss, redis+sentinel or redis+cluster", scheme)
	}
}

// ServerInfo holds the Redis settings Hookline checks at start.
type ServerInfo struct {
	MaxmemoryPolicy string
	AppendOnly      bool
}

// Inspect reads the settings Hookline depends on. Managed Redis services that
// forbid CONFIG GET are reported with empty values and no error.
func Inspect(ctx context.Context, rdb redis.UniversalClient) (ServerInfo, error) {
	var si ServerInfo
	if err := rdb.Ping(ctx).Err(); err != nil {
		return si, fmt.Errorf("store: ping: %w", err)
	}
	vals, err := rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err == nil {
		si.MaxmemoryPolicy = vals["maxmemory-policy"]
	}
	vals, err = rdb.ConfigGet(ctx, "appendonly").Result()
	if err == nil {
		si.AppendOnly = vals["appendonly"] == "yes"
	}
	return si, nil
}

// PageDesc reads one page of a lexically ordered index (a ZSET whose members
// all have score 0, such as ids that sort by time), newest first. after is
// the last id of the previous page, or "". next is the id to continue after,
// or "" at the end.
func PageDesc(ctx context.Context, rdb redis.UniversalClient, key, after string, limit int) (page []string, next string, err error) {
	max := "+"
	if after != "" {
		max = "(" + after
	}
	page, err = rdb.ZRevRangeByLex(ctx, key, &redis.ZRangeBy{Max: max, Min: "-", Count: int64(limit + 1)}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("store: page %s: %w", key, err)
	}
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1]
	}
	return page, next, nil
}

// LoadHashes reads many HASHes in one round trip, in the order of keys. A
// missing key (expired between an index read and this one) is an empty map
// at its place, for the caller to skip.
func LoadHashes(ctx context.Context, rdb redis.UniversalClient, keys []string) ([]map[string]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	p := rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = p.HGetAll(ctx, k)
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: load %d records: %w", len(keys), err)
	}
	out := make([]map[string]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// Page reads one page of a lexically ordered index (PageDesc) and loads
// each member's HASH (LoadHashes), through key; members whose record is
// gone are skipped. decode turns one record into the caller's type.
func Page[T any](ctx context.Context, rdb redis.UniversalClient, index, after string, limit int,
	key func(id string) string, decode func(m map[string]string) T) ([]T, string, error) {
	ids, next, err := PageDesc(ctx, rdb, index, after, limit)
	if err != nil {
		return nil, "", err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = key(id)
	}
	ms, err := LoadHashes(ctx, rdb, keys)
	if err != nil {
		return nil, "", err
	}
	out := make([]T, 0, len(ms))
	for _, m := range ms {
		if len(m) > 0 {
			out = append(out, decode(m))
		}
	}
	return out, next, nil
}

// MS encodes a time for a Redis field: Unix milliseconds, 0 for the zero time.
func MS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Time decodes a field written with MS; anything else is the zero time.
func Time(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}
