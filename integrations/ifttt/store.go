package ifttt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/store"
)

// iftttStore is the only file with Redis commands; every key comes from
// store.Keys (app/store/keys_ifttt.go).
type iftttStore struct {
	rdb  redis.UniversalClient
	keys store.Keys
}

var errNoToken = errors.New("ifttt: no such token")

// ---- tokens and codes (global keys, looked up before the account is known)

// tokenRef is what a token hash points at.
type tokenRef struct {
	acct, conn, kind string
	until            time.Time // zero: no expiry
}

func (s *iftttStore) token(ctx context.Context, hash string) (tokenRef, error) {
	v, err := s.rdb.Get(ctx, s.keys.IFTTTToken(hash)).Result()
	if errors.Is(err, redis.Nil) {
		return tokenRef{}, errNoToken
	}
	if err != nil {
		return tokenRef{}, fmt.Errorf("ifttt: load token: %w", err)
	}
	f := strings.Fields(v)
	if len(f) != 4 {
		return tokenRef{}, errNoToken
	}
	return tokenRef{acct: f[0], conn: f[1], kind: f[2], until: store.Time(f[3])}, nil
}

func tokenValue(r tokenRef) string {
	return r.acct + " " + r.conn + " " + r.kind + " " + strconv.FormatInt(store.MS(r.until), 10)
}

// putTokens indexes fresh tokens of a connection and remembers them with it.
func (s *iftttStore) putTokens(ctx context.Context, acct, conn string, hashes map[string]string) error {
	p := s.rdb.TxPipeline()
	for kind, h := range hashes {
		p.SAdd(ctx, s.keys.IFTTTConnectionTokens(acct, conn), kind+":"+h)
	}
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("ifttt: remember tokens: %w", err)
	}
	// The index is global (another slot): written after the connection's own
	// set, so a revocation never misses a token it could have found.
	p = s.rdb.Pipeline()
	for kind, h := range hashes {
		p.Set(ctx, s.keys.IFTTTToken(h), tokenValue(tokenRef{acct: acct, conn: conn, kind: kind}), 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("ifttt: index tokens: %w", err)
	}
	return nil
}

// expireTokens gives tokens a grace end: they answer until `until` (by the
// service's clock) and Redis drops them a little after.
func (s *iftttStore) expireTokens(ctx context.Context, refs map[string]tokenRef, until time.Time, ttl time.Duration) error {
	p := s.rdb.Pipeline()
	for h, r := range refs {
		if !r.until.IsZero() && r.until.Before(until) {
			continue // already ends sooner
		}
		r.until = until
		p.Set(ctx, s.keys.IFTTTToken(h), tokenValue(r), ttl)
	}
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("ifttt: expire tokens: %w", err)
	}
	return nil
}

// liveTokens returns the connection's tokens still indexed, by hash.
func (s *iftttStore) liveTokens(ctx context.Context, acct, conn string) (map[string]tokenRef, error) {
	members, err := s.rdb.SMembers(ctx, s.keys.IFTTTConnectionTokens(acct, conn)).Result()
	if err != nil {
		return nil, fmt.Errorf("ifttt: list tokens: %w", err)
	}
	out := map[string]tokenRef{}
	var gone []any
	for _, m := range members {
		_, h, _ := strings.Cut(m, ":")
		r, err := s.token(ctx, h)
		if errors.Is(err, errNoToken) {
			gone = append(gone, m)
			continue
		}
		if err != nil {
			return nil, err
		}
		out[h] = r
	}
	if len(gone) > 0 {
		_ = s.rdb.SRem(ctx, s.keys.IFTTTConnectionTokens(acct, conn), gone...).Err()
	}
	return out, nil
}

func (s *iftttStore) putCode(ctx context.Context, hash, acct, user string, at time.Time, ttl time.Duration) error {
	v := acct + " " + user + " " + strconv.FormatInt(store.MS(at), 10)
	if err := s.rdb.Set(ctx, s.keys.IFTTTCode(hash), v, ttl).Err(); err != nil {
		return fmt.Errorf("ifttt: store code: %w", err)
	}
	return nil
}

// takeCode removes and returns a code: a code works once.
func (s *iftttStore) takeCode(ctx context.Context, hash string) (acct, user string, at time.Time, err error) {
	v, err := s.rdb.GetDel(ctx, s.keys.IFTTTCode(hash)).Result()
	if errors.Is(err, redis.Nil) {
		return "", "", time.Time{}, errNoToken
	}
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("ifttt: take code: %w", err)
	}
	f := strings.Fields(v)
	if len(f) != 3 {
		return "", "", time.Time{}, errNoToken
	}
	return f[0], f[1], store.Time(f[2]), nil
}

// ---- pending authorizations and sign-in attempts

func (s *iftttStore) putAuthorization(ctx context.Context, id string, fields map[string]any, ttl time.Duration) error {
	p := s.rdb.TxPipeline()
	p.HSet(ctx, s.keys.IFTTTAuthorization(id), fields)
	p.PExpire(ctx, s.keys.IFTTTAuthorization(id), ttl)
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("ifttt: store authorization: %w", err)
	}
	return nil
}

func (s *iftttStore) authorization(ctx context.Context, id string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.IFTTTAuthorization(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("ifttt: load authorization: %w", err)
	}
	return m, nil
}

// takeAuthorization deletes a pending authorization; false when another
// request already finished it.
func (s *iftttStore) takeAuthorization(ctx context.Context, id string) (bool, error) {
	n, err := s.rdb.Del(ctx, s.keys.IFTTTAuthorization(id)).Result()
	if err != nil {
		return false, fmt.Errorf("ifttt: finish authorization: %w", err)
	}
	return n == 1, nil
}

// attempts counts one failed sign-in for subject and returns the count in
// the current window.
func (s *iftttStore) attempts(ctx context.Context, subject string, add bool, window time.Duration) (int64, error) {
	k := s.keys.IFTTTSignInAttempts(subject)
	if !add {
		n, err := s.rdb.Get(ctx, k).Int64()
		if errors.Is(err, redis.Nil) {
			return 0, nil
		}
		return n, err
	}
	p := s.rdb.TxPipeline()
	incr := p.Incr(ctx, k)
	p.ExpireNX(ctx, k, window)
	if _, err := p.Exec(ctx); err != nil {
		return 0, fmt.Errorf("ifttt: count sign-in: %w", err)
	}
	return incr.Val(), nil
}

// ---- connections

func connectionFrom(acct string, m map[string]string) Connection {
	return Connection{
		ID: m["id"], AccountID: acct, UserID: m["user_id"], ClientID: m["client_id"], Scope: m["scope"],
		CreatedAt: store.Time(m["created_at"]), LastUsedAt: store.Time(m["last_used_at"]), RevokedAt: store.Time(m["revoked_at"]),
	}
}

func (s *iftttStore) createConnection(ctx context.Context, c Connection) error {
	p := s.rdb.TxPipeline()
	p.HSet(ctx, s.keys.IFTTTConnection(c.AccountID, c.ID), map[string]any{
		"id": c.ID, "user_id": c.UserID, "client_id": c.ClientID, "scope": c.Scope, "created_at": store.MS(c.CreatedAt),
	})
	p.ZAdd(ctx, s.keys.IFTTTConnections(c.AccountID), redis.Z{Member: c.ID})
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("ifttt: create connection: %w", err)
	}
	return nil
}

func (s *iftttStore) connection(ctx context.Context, acct, id string) (Connection, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.IFTTTConnection(acct, id)).Result()
	if err != nil {
		return Connection{}, fmt.Errorf("ifttt: load connection: %w", err)
	}
	if len(m) == 0 {
		return Connection{}, apperr.NotFound("connection")
	}
	return connectionFrom(acct, m), nil
}

func (s *iftttStore) listConnections(ctx context.Context, acct, after string, limit int) ([]Connection, string, error) {
	return store.Page(ctx, s.rdb, s.keys.IFTTTConnections(acct), after, limit,
		func(id string) string { return s.keys.IFTTTConnection(acct, id) },
		func(m map[string]string) Connection { return connectionFrom(acct, m) })
}

func (s *iftttStore) touchConnection(ctx context.Context, acct, id string, at time.Time) error {
	return s.rdb.HSet(ctx, s.keys.IFTTTConnection(acct, id), "last_used_at", store.MS(at)).Err()
}

// revokeConnection marks the connection revoked (which alone makes its
// tokens fail), then deletes its tokens' index entries and returns the
// trigger identities registered through it.
func (s *iftttStore) revokeConnection(ctx context.Context, acct, id string, at time.Time) ([]string, error) {
	if err := s.rdb.HSet(ctx, s.keys.IFTTTConnection(acct, id), "revoked_at", store.MS(at)).Err(); err != nil {
		return nil, fmt.Errorf("ifttt: revoke connection: %w", err)
	}
	toks, err := s.liveTokens(ctx, acct, id)
	if err != nil {
		return nil, err
	}
	p := s.rdb.Pipeline()
	for h := range toks {
		p.Del(ctx, s.keys.IFTTTToken(h))
	}
	p.Del(ctx, s.keys.IFTTTConnectionTokens(acct, id))
	tids := p.SMembers(ctx, s.keys.IFTTTConnectionIdentities(acct, id))
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("ifttt: drop connection tokens: %w", err)
	}
	return tids.Val(), nil
}

// ---- trigger identities

func (s *iftttStore) registerIdentity(ctx context.Context, acct string, id Identity) error {
	fields, _ := json.Marshal(id.Fields)
	p := s.rdb.TxPipeline()
	p.HSet(ctx, s.keys.IFTTTIdentity(acct, id.ID), map[string]any{
		"user_id": id.UserID, "conn_id": id.ConnID, "trigger": id.Trigger, "topic": id.Topic,
		"fields": string(fields), "created_at": store.MS(id.CreatedAt),
	})
	p.SAdd(ctx, s.keys.IFTTTTopic(acct, id.Topic), id.ID)
	p.SAdd(ctx, s.keys.IFTTTConnectionIdentities(acct, id.ConnID), id.ID)
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("ifttt: register trigger identity: %w", err)
	}
	if err := s.rdb.Set(ctx, s.keys.IFTTTIdentityIndex(id.ID), acct, 0).Err(); err != nil {
		return fmt.Errorf("ifttt: index trigger identity: %w", err)
	}
	return nil
}

// identityExists reports whether an identity is registered as is (same
// connection, trigger and fields), so a poll rewrites nothing.
func (s *iftttStore) identity(ctx context.Context, acct, id string) (Identity, bool, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.IFTTTIdentity(acct, id)).Result()
	if err != nil {
		return Identity{}, false, fmt.Errorf("ifttt: load trigger identity: %w", err)
	}
	if len(m) == 0 {
		return Identity{}, false, nil
	}
	return identityFrom(id, m), true, nil
}

func identityFrom(id string, m map[string]string) Identity {
	out := Identity{ID: id, UserID: m["user_id"], ConnID: m["conn_id"], Trigger: m["trigger"], Topic: m["topic"],
		CreatedAt: store.Time(m["created_at"])}
	_ = json.Unmarshal([]byte(m["fields"]), &out.Fields)
	return out
}

// identityAccount finds the account of a trigger identity ("" when unknown).
func (s *iftttStore) identityAccount(ctx context.Context, id string) (string, error) {
	acct, err := s.rdb.Get(ctx, s.keys.IFTTTIdentityIndex(id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("ifttt: find trigger identity: %w", err)
	}
	return acct, nil
}

// removeIdentities forgets trigger identities of one account.
func (s *iftttStore) removeIdentities(ctx context.Context, acct string, idList []string) error {
	for _, id := range idList {
		got, ok, err := s.identity(ctx, acct, id)
		if err != nil {
			return err
		}
		p := s.rdb.TxPipeline()
		p.Del(ctx, s.keys.IFTTTIdentity(acct, id))
		if ok {
			p.SRem(ctx, s.keys.IFTTTTopic(acct, got.Topic), id)
			p.SRem(ctx, s.keys.IFTTTConnectionIdentities(acct, got.ConnID), id)
		}
		if _, err := p.Exec(ctx); err != nil {
			return fmt.Errorf("ifttt: remove trigger identity: %w", err)
		}
		if err := s.rdb.Del(ctx, s.keys.IFTTTIdentityIndex(id)).Err(); err != nil {
			return fmt.Errorf("ifttt: unindex trigger identity: %w", err)
		}
	}
	return nil
}

func (s *iftttStore) connectionIdentities(ctx context.Context, acct, conn string) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.keys.IFTTTConnectionIdentities(acct, conn)).Result()
	if err != nil {
		return nil, fmt.Errorf("ifttt: list identities of connection: %w", err)
	}
	return ids, nil
}

// topicIdentities loads the identities registered for a topic.
func (s *iftttStore) topicIdentities(ctx context.Context, acct, topic string) ([]Identity, error) {
	idList, err := s.rdb.SMembers(ctx, s.keys.IFTTTTopic(acct, topic)).Result()
	if err != nil {
		return nil, fmt.Errorf("ifttt: list topic: %w", err)
	}
	keys := make([]string, len(idList))
	for i, id := range idList {
		keys[i] = s.keys.IFTTTIdentity(acct, id)
	}
	ms, err := store.LoadHashes(ctx, s.rdb, keys)
	if err != nil {
		return nil, err
	}
	out := make([]Identity, 0, len(ms))
	for i, m := range ms {
		if len(m) > 0 {
			out = append(out, identityFrom(idList[i], m))
		}
	}
	return out, nil
}

// ---- the test account

func (s *iftttStore) testAccount(ctx context.Context) (acct, user, conn string, err error) {
	v, err := s.rdb.Get(ctx, s.keys.IFTTTTestAccount()).Result()
	if errors.Is(err, redis.Nil) {
		return "", "", "", nil
	}
	if err != nil {
		return "", "", "", fmt.Errorf("ifttt: load test account: %w", err)
	}
	f := strings.Fields(v)
	if len(f) != 3 {
		return "", "", "", nil
	}
	return f[0], f[1], f[2], nil
}

func (s *iftttStore) setTestAccount(ctx context.Context, acct, user, conn string) error {
	return s.rdb.Set(ctx, s.keys.IFTTTTestAccount(), acct+" "+user+" "+conn, 0).Err()
}
