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
	"github.com/hookline/hookline/app/secrets"
	"github.com/hookline/hookline/app/store"
)

type endpointStore struct {
	rdb  redis.UniversalClient
	keys store.Keys
	sec  *secrets.Keyring // nil: verification secrets stored as given
}

// sealed reports whether a verification type's secret is kept usable (and
// so sealed at rest); token and basic keep only a SHA-256.
func sealed(verType string) bool { return verType == VerifyHMAC || verType == VerifyStandardWebhooks }

// secretContext binds a sealed verification secret to its record and field.
func (s *endpointStore) secretContext(acct, id string) string {
	return s.keys.InboundEndpoint(acct, id) + "#ver_secret"
}

// settingFields are the fields a create or an update writes; the token hash
// is written only by create and rotate, so an update racing a rotation
// cannot put the old token back. An HMAC or Standard Webhooks secret is
// sealed.
func (s *endpointStore) settingFields(e Endpoint) ([]any, error) {
	mapping, _ := json.Marshal(e.Mapping) // strings and raw JSON always encode
	paused := "0"
	if e.Paused {
		paused = "1"
	}
	v := e.Verification
	secret := v.Secret
	if sealed(v.Type) {
		var err error
		if secret, err = s.sec.Seal(v.Secret, s.secretContext(e.AccountID, e.ID)); err != nil {
			return nil, fmt.Errorf("endpoints: seal secret of %s: %w", e.ID, err)
		}
	}
	return []any{
		"id", e.ID, "owner_id", e.OwnerID, "credential", e.Credential, "name", e.Name, "action", e.Action,
		"mapping", string(mapping), "ver_type", v.Type, "ver_header", v.Header, "ver_query", v.Query,
		"ver_username", v.Username, "ver_encoding", v.Encoding, "ver_prefix", v.Prefix, "ver_secret", secret,
		"success_url", e.SuccessURL, "paused", paused, "rate_limit", e.RateLimit,
		"created_at", store.MS(e.CreatedAt), "updated_at", store.MS(e.UpdatedAt),
	}, nil
}

// endpointFrom reads a stored endpoint. Its verification secret is as
// stored (possibly sealed); open makes it usable.
func endpointFrom(acct string, m map[string]string) Endpoint {
	e := Endpoint{
		ID: m["id"], AccountID: acct, OwnerID: m["owner_id"], Credential: m["credential"], Name: m["name"], Action: m["action"],
		Verification: Verification{
			Type: m["ver_type"], Header: m["ver_header"], Query: m["ver_query"], Username: m["ver_username"],
			Encoding: m["ver_encoding"], Prefix: m["ver_prefix"], Secret: m["ver_secret"],
		},
		SuccessURL: m["success_url"], Paused: m["paused"] == "1", TokenHash: m["token_hash"],
		CreatedAt: store.Time(m["created_at"]), UpdatedAt: store.Time(m["updated_at"]),
		Refused: Refused{Size: atoi(m["refused_size"]), Paused: atoi(m["refused_paused"]),
			Rate: atoi(m["refused_rate"]), Auth: atoi(m["refused_auth"])},
	}
	e.RateLimit, _ = strconv.Atoi(m["rate_limit"])
	_ = json.Unmarshal([]byte(m["mapping"]), &e.Mapping)
	return e
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// open makes e's verification secret usable.
func (s *endpointStore) open(e *Endpoint) error {
	if !sealed(e.Verification.Type) {
		return nil
	}
	plain, err := s.sec.Open(e.Verification.Secret, s.secretContext(e.AccountID, e.ID))
	if err != nil {
		return fmt.Errorf("endpoints: open secret of %s: %w", e.ID, err)
	}
	e.Verification.Secret = plain
	return nil
}

// createScript writes a new endpoint unless the account is at its limit.
// KEYS[1] endpoint HASH, KEYS[2] the account's endpoints ZSET. ARGV[1] the
// limit, ARGV[2] the id, ARGV[3…] field/value pairs. Returns 0 at the
// limit, else 1.
var createScript = redis.NewScript(`
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return 1
`)

// errLimit is create's answer at the account's limit.
var errLimit = errors.New("endpoints: at the account's limit")

// create writes a new endpoint, unless the account already has limit of
// them (errLimit), then its token index: the endpoint is reachable only
// once both exist. The index is global (another Cluster slot), so it
// cannot join the script.
func (s *endpointStore) create(ctx context.Context, e Endpoint, limit int) error {
	fields, err := s.settingFields(e)
	if err != nil {
		return err
	}
	args := append([]any{limit, e.ID}, fields...)
	args = append(args, "token_hash", e.TokenHash)
	n, err := createScript.Run(ctx, s.rdb, []string{s.keys.InboundEndpoint(e.AccountID, e.ID), s.keys.InboundEndpoints(e.AccountID)}, args...).Int()
	if err != nil {
		return fmt.Errorf("endpoints: create %s: %w", e.ID, err)
	}
	if n == 0 {
		return errLimit
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
	fields, err := s.settingFields(e)
	if err != nil {
		return err
	}
	return s.set(ctx, e.AccountID, e.ID, fields...)
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

// delete removes an endpoint, its request log (index and records) and its
// token index.
func (s *endpointStore) delete(ctx context.Context, e Endpoint) error {
	idx := s.keys.InboundRequests(e.AccountID, e.ID)
	reqs, err := s.rdb.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return fmt.Errorf("endpoints: delete %s: %w", e.ID, err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.keys.InboundEndpoint(e.AccountID, e.ID), idx)
		p.ZRem(ctx, s.keys.InboundEndpoints(e.AccountID), e.ID)
		for _, id := range reqs {
			p.Unlink(ctx, s.keys.InboundRequest(e.AccountID, id))
		}
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

// pauseIfCreatedBy pauses an endpoint created by a credential.
// KEYS[1] endpoint HASH; ARGV[1] the credential (kind:id), ARGV[2] the
// time (ms). Returns 1 when it paused the endpoint, 0 when it is gone,
// not the credential's, or already paused.
var pauseIfCreatedBy = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'credential', 'paused')
if v[1] ~= ARGV[1] or v[2] == '1' then return 0 end
redis.call('HSET', KEYS[1], 'paused', '1', 'updated_at', ARGV[2])
return 1
`)

// pauseCreatedBy pauses every endpoint of acct that cred created and
// returns how many it paused.
func (s *endpointStore) pauseCreatedBy(ctx context.Context, acct, cred string, now time.Time) (int, error) {
	all, err := s.rdb.ZRange(ctx, s.keys.InboundEndpoints(acct), 0, -1).Result()
	if err != nil {
		return 0, fmt.Errorf("endpoints: list endpoints of %s: %w", acct, err)
	}
	n := 0
	for _, id := range all {
		k, err := pauseIfCreatedBy.Run(ctx, s.rdb, []string{s.keys.InboundEndpoint(acct, id)}, cred, store.MS(now)).Int()
		if err != nil {
			return n, fmt.Errorf("endpoints: pause %s: %w", id, err)
		}
		n += k
	}
	return n, nil
}

// resealIfSame replaces a verification secret unless it changed meanwhile.
// KEYS[1] endpoint HASH; ARGV[1] the value read, ARGV[2] the new one.
// Returns 1 when replaced.
var resealIfSame = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'ver_secret') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'ver_secret', ARGV[2])
return 1
`)

// reseal seals again, under the current key, every stale verification
// secret of the account's endpoints, and returns how many it changed.
func (s *endpointStore) reseal(ctx context.Context, acct string) (int, error) {
	all, err := s.rdb.ZRange(ctx, s.keys.InboundEndpoints(acct), 0, -1).Result()
	if err != nil {
		return 0, fmt.Errorf("endpoints: list endpoints of %s: %w", acct, err)
	}
	n := 0
	for _, id := range all {
		k := s.keys.InboundEndpoint(acct, id)
		v, err := s.rdb.HMGet(ctx, k, "ver_type", "ver_secret").Result()
		if err != nil {
			return n, fmt.Errorf("endpoints: read secret of %s: %w", id, err)
		}
		typ, _ := v[0].(string)
		old, _ := v[1].(string)
		if !sealed(typ) || !s.sec.Stale(old) {
			continue
		}
		fresh, err := s.sec.Reseal(old, s.secretContext(acct, id))
		if err != nil {
			return n, fmt.Errorf("endpoints: reseal secret of %s: %w", id, err)
		}
		done, err := resealIfSame.Run(ctx, s.rdb, []string{k}, old, fresh).Int()
		if err != nil {
			return n, fmt.Errorf("endpoints: reseal secret of %s: %w", id, err)
		}
		n += done
	}
	return n, nil
}

func (s *endpointStore) get(ctx context.Context, acct, id string) (Endpoint, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.InboundEndpoint(acct, id)).Result()
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoints: load %s: %w", id, err)
	}
	if len(m) == 0 {
		return Endpoint{}, apperr.NotFound("inbound endpoint")
	}
	e := endpointFrom(acct, m)
	if err := s.open(&e); err != nil {
		return Endpoint{}, err
	}
	return e, nil
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

// accountIDs lists every account's id.
func (s *endpointStore) accountIDs(ctx context.Context) ([]string, error) {
	accts, err := s.rdb.SMembers(ctx, s.keys.Accounts()).Result()
	if err != nil {
		return nil, fmt.Errorf("endpoints: list accounts: %w", err)
	}
	return accts, nil
}
