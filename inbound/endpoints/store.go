package endpoints

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
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/store"
)

type endpointStore struct {
	rdb  redis.UniversalClient
	keys store.Keys
}

// settingFields are the fields a create or an update writes; the token hash
// is written only by create and rotate, so an update racing a rotation
// cannot put the old token back.
func settingFields(e Endpoint) []any {
	mapping, _ := json.Marshal(e.Mapping) // strings and raw JSON always encode
	paused := "0"
	if e.Paused {
		paused = "1"
	}
	v := e.Verification
	return []any{
		"id", e.ID, "owner_id", e.OwnerID, "credential", e.Credential, "name", e.Name, "action", e.Action,
		"mapping", string(mapping), "ver_type", v.Type, "ver_header", v.Header, "ver_query", v.Query,
		"ver_username", v.Username, "ver_encoding", v.Encoding, "ver_prefix", v.Prefix, "ver_secret", v.Secret,
		"success_url", e.SuccessURL, "paused", paused, "rate_limit", e.RateLimit,
		"created_at", store.MS(e.CreatedAt), "updated_at", store.MS(e.UpdatedAt),
	}
}

func endpointFrom(acct string, m map[string]string) Endpoint {
	e := Endpoint{
		ID: m["id"], AccountID: acct, OwnerID: m["owner_id"], Credential: m["credential"], Name: m["name"], Action: m["action"],
		Verification: Verification{
			Type: m["ver_type"], Header: m["ver_header"], Query: m["ver_query"], Username: m["ver_username"],
			Encoding: m["ver_encoding"], Prefix: m["ver_prefix"], Secret: m["ver_secret"],
		},
		SuccessURL: m["success_url"], Paused: m["paused"] == "1", TokenHash: m["token_hash"],
		CreatedAt: store.Time(m["created_at"]), UpdatedAt: store.Time(m["updated_at"]),
	}
	e.RateLimit, _ = strconv.Atoi(m["rate_limit"])
	_ = json.Unmarshal([]byte(m["mapping"]), &e.Mapping)
	return e
}

// create writes a new endpoint, then its token index: the endpoint is
// reachable only once both exist. The index is global (another Cluster
// slot), so it cannot join the transaction.
func (s *endpointStore) create(ctx context.Context, e Endpoint) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		k := s.keys.InboundEndpoint(e.AccountID, e.ID)
		p.HSet(ctx, k, settingFields(e)...)
		p.HSet(ctx, k, "token_hash", e.TokenHash)
		p.ZAdd(ctx, s.keys.InboundEndpoints(e.AccountID), redis.Z{Member: e.ID})
		return nil
	})
	if err != nil {
		return fmt.Errorf("endpoints: create %s: %w", e.ID, err)
	}
	if err := s.rdb.Set(ctx, s.keys.InboundToken(e.TokenHash), e.AccountID+" "+e.ID, 0).Err(); err != nil {
		return fmt.Errorf("endpoints: index token of %s: %w", e.ID, err)
	}
	return nil
}

// setIfExists updates some fields of an endpoint that still exists.
// KEYS[1] endpoint HASH; ARGV field/value pairs. Returns 0 when it is gone.
var setIfExists = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`)

func (s *endpointStore) set(ctx context.Context, acct, id string, kv ...any) error {
	n, err := setIfExists.Run(ctx, s.rdb, []string{s.keys.InboundEndpoint(acct, id)}, kv...).Int()
	if err != nil {
		return fmt.Errorf("endpoints: update %s: %w", id, err)
	}
	if n == 0 {
		return apperr.NotFound("inbound endpoint")
	}
	return nil
}

// update writes an endpoint's settings, unless it was deleted meanwhile.
func (s *endpointStore) update(ctx context.Context, e Endpoint) error {
	return s.set(ctx, e.AccountID, e.ID, settingFields(e)...)
}

// rotate moves an endpoint to a new token: the new index first, then the
// record, then the old index goes, so the endpoint is never unreachable by
// its current token.
func (s *endpointStore) rotate(ctx context.Context, e Endpoint, newHash string) error {
	if err := s.rdb.Set(ctx, s.keys.InboundToken(newHash), e.AccountID+" "+e.ID, 0).Err(); err != nil {
		return fmt.Errorf("endpoints: index token of %s: %w", e.ID, err)
	}
	if err := s.set(ctx, e.AccountID, e.ID, "token_hash", newHash, "updated_at", store.MS(e.UpdatedAt)); err != nil {
		_ = s.rdb.Del(ctx, s.keys.InboundToken(newHash)).Err()
		return err
	}
	if err := s.rdb.Del(ctx, s.keys.InboundToken(e.TokenHash)).Err(); err != nil {
		// A leftover index entry is harmless: byToken checks the record's hash.
		return fmt.Errorf("endpoints: unindex old token of %s: %w", e.ID, err)
	}
	return nil
}

// delete removes an endpoint, its request index and its token index. The
// request records expire on their own.
func (s *endpointStore) delete(ctx context.Context, e Endpoint) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.keys.InboundEndpoint(e.AccountID, e.ID), s.keys.InboundRequests(e.AccountID, e.ID))
		p.ZRem(ctx, s.keys.InboundEndpoints(e.AccountID), e.ID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("endpoints: delete %s: %w", e.ID, err)
	}
	if err := s.rdb.Del(ctx, s.keys.InboundToken(e.TokenHash)).Err(); err != nil {
		return fmt.Errorf("endpoints: unindex token of %s: %w", e.ID, err)
	}
	return nil
}

func (s *endpointStore) get(ctx context.Context, acct, id string) (Endpoint, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.InboundEndpoint(acct, id)).Result()
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoints: load %s: %w", id, err)
	}
	if len(m) == 0 {
		return Endpoint{}, apperr.NotFound("inbound endpoint")
	}
	return endpointFrom(acct, m), nil
}

// byToken returns the endpoint whose token hashes to hash, or not found.
func (s *endpointStore) byToken(ctx context.Context, hash string) (Endpoint, error) {
	ref, err := s.rdb.Get(ctx, s.keys.InboundToken(hash)).Result()
	if errors.Is(err, redis.Nil) {
		return Endpoint{}, apperr.NotFound("inbound endpoint")
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoints: token index: %w", err)
	}
	acct, id, ok := strings.Cut(ref, " ")
	if !ok {
		return Endpoint{}, fmt.Errorf("endpoints: token index entry %q is corrupt", ref)
	}
	return s.get(ctx, acct, id)
}

// list reads a page of the account's endpoints, newest first.
func (s *endpointStore) list(ctx context.Context, acct, after string, limit int) ([]Endpoint, string, error) {
	return store.Page(ctx, s.rdb, s.keys.InboundEndpoints(acct), after, limit,
		func(id string) string { return s.keys.InboundEndpoint(acct, id) },
		func(m map[string]string) Endpoint { return endpointFrom(acct, m) })
}

// ---- request log

// addRequest stores one logged post and trims the endpoint's log to its
// bounds without scans: by rank for the count and by id range for the age,
// since ids sort by time.
func (s *endpointStore) addRequest(ctx context.Context, acct string, r Request, max int, retention time.Duration, now time.Time) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("endpoints: encode request %s: %w", r.ID, err)
	}
	idx := s.keys.InboundRequests(acct, r.EndpointID)
	floor := "(" + ids.Floor(ids.Request, now.Add(-retention))
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.keys.InboundRequest(acct, r.ID), raw, retention)
		p.ZAdd(ctx, idx, redis.Z{Member: r.ID})
		p.ZRemRangeByRank(ctx, idx, 0, int64(-max-1))
		p.ZRemRangeByLex(ctx, idx, "-", floor)
		p.Expire(ctx, idx, retention)
		return nil
	})
	if err != nil {
		return fmt.Errorf("endpoints: log request %s: %w", r.ID, err)
	}
	return nil
}

// requests reads a page of an endpoint's request log, newest first. Each
// record is a JSON STRING with its own expiry (not a HASH, so not
// store.Page); one that expired between the index read and this one is
// skipped.
func (s *endpointStore) requests(ctx context.Context, acct, endpoint, after string, limit int) ([]Request, string, error) {
	page, next, err := store.PageDesc(ctx, s.rdb, s.keys.InboundRequests(acct, endpoint), after, limit)
	if err != nil || len(page) == 0 {
		return nil, "", err
	}
	p := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(page))
	for i, id := range page {
		cmds[i] = p.Get(ctx, s.keys.InboundRequest(acct, id))
	}
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", fmt.Errorf("endpoints: list requests: %w", err)
	}
	out := make([]Request, 0, len(page))
	for _, c := range cmds {
		var r Request
		if raw, err := c.Bytes(); err == nil && json.Unmarshal(raw, &r) == nil {
			out = append(out, r)
		}
	}
	return out, next, nil
}
