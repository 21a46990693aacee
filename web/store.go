package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/store"
)

// webStore is the only file of the dashboard with Redis commands: Fiber's
// session storage (fiber.Storage) on Hookline's own client, the index of
// each user's sessions and the sign-in throttle. Reset is refused: a
// storage whose reset flushes the database must never be wired to the
// system of record.
type webStore struct {
	rdb  redis.UniversalClient
	keys store.Keys
}

func hashID(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

func (s *webStore) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// Get returns a session's data, or nil when there is none.
func (s *webStore) Get(id string) ([]byte, error) {
	if id == "" {
		return nil, nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	b, err := s.rdb.Get(ctx, s.keys.WebSession(hashID(id))).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("web: load session: %w", err)
	}
	return b, nil
}

// Set stores a session's data for exp (0: no expiry).
func (s *webStore) Set(id string, val []byte, exp time.Duration) error {
	if id == "" || len(val) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.rdb.Set(ctx, s.keys.WebSession(hashID(id)), val, exp).Err(); err != nil {
		return fmt.Errorf("web: save session: %w", err)
	}
	return nil
}

// Delete removes a session.
func (s *webStore) Delete(id string) error {
	if id == "" {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.rdb.Del(ctx, s.keys.WebSession(hashID(id))).Err(); err != nil {
		return fmt.Errorf("web: delete session: %w", err)
	}
	return nil
}

// Reset is refused: it would have to find every session by scanning.
func (s *webStore) Reset() error { return errors.New("web: session storage cannot be reset") }

// Close does nothing: the client belongs to the composition root.
func (s *webStore) Close() error { return nil }

// sessionMember is a session's entry in its user's index: the hash of its
// cookie value and its credential id.
func sessionMember(id, sid string) string { return hashID(id) + ":" + sid }

// remember adds a session (cookie value id, credential id sid) to its
// user's index.
func (s *webStore) remember(ctx context.Context, acct, user, id, sid string) error {
	if err := s.rdb.SAdd(ctx, s.keys.WebUserSessions(acct, user), sessionMember(id, sid)).Err(); err != nil {
		return fmt.Errorf("web: index session: %w", err)
	}
	return nil
}

// forget removes a session from its user's index.
func (s *webStore) forget(ctx context.Context, acct, user, id, sid string) error {
	return s.rdb.SRem(ctx, s.keys.WebUserSessions(acct, user), sessionMember(id, sid)).Err()
}

// endOthers deletes every session of the user but keep (a cookie value)
// and returns the credential ids of the live sessions it ended ("" for a
// session indexed without one), for accounts.Revoked.
func (s *webStore) endOthers(ctx context.Context, acct, user, keep string) ([]string, error) {
	idx := s.keys.WebUserSessions(acct, user)
	members, err := s.rdb.SMembers(ctx, idx).Result()
	if err != nil {
		return nil, fmt.Errorf("web: list sessions: %w", err)
	}
	var ended []string
	keepHash := hashID(keep)
	for _, m := range members {
		h, sid, _ := strings.Cut(m, ":")
		if h == keepHash {
			continue
		}
		gone, err := s.rdb.Del(ctx, s.keys.WebSession(h)).Result()
		if err != nil {
			return ended, fmt.Errorf("web: end session: %w", err)
		}
		if gone > 0 { // one that expired by itself was not signed out here
			ended = append(ended, sid)
		}
		if err := s.rdb.SRem(ctx, idx, m).Err(); err != nil {
			return ended, fmt.Errorf("web: unindex session: %w", err)
		}
	}
	return ended, nil
}

// failures returns how many failed sign-ins subject has in the window and
// how long until the count expires.
func (s *webStore) failures(ctx context.Context, subject string) (int, time.Duration, error) {
	p := s.rdb.Pipeline()
	g := p.Get(ctx, s.keys.WebLoginFailures(subject))
	ttl := p.PTTL(ctx, s.keys.WebLoginFailures(subject))
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, fmt.Errorf("web: read sign-in failures: %w", err)
	}
	n, _ := g.Int()
	return n, ttl.Val(), nil
}

// fail counts one failed sign-in of subject; the window starts at the first.
func (s *webStore) fail(ctx context.Context, subject string, window time.Duration) error {
	key := s.keys.WebLoginFailures(subject)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, key)
		p.ExpireNX(ctx, key, window)
		return nil
	})
	if err != nil {
		return fmt.Errorf("web: count sign-in failure: %w", err)
	}
	return nil
}
