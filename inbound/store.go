package inbound

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/store"
)

// loopStore holds the loop guard's Redis records: incidents, recent
// suppressions per resource and paused writers.
type loopStore struct {
	rdb  redis.UniversalClient
	keys store.Keys
}

// paused returns the incident that paused a writer, or "".
func (s *loopStore) paused(ctx context.Context, acct, subject string) (string, error) {
	inc, err := s.rdb.Get(ctx, s.keys.Paused(acct, subject)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inbound: breaker: %w", err)
	}
	return inc, nil
}

// pause marks a writer paused by an incident.
func (s *loopStore) pause(ctx context.Context, acct, subject, inc string) error {
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, s.keys.Paused(acct, subject), inc, 0)
	pipe.HSet(ctx, s.keys.Incident(acct, inc), "paused", subject)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("inbound: pause %s: %w", subject, err)
	}
	return nil
}

// recordSuppression adds a suppressed write of resource to its window and
// to incident inc (with the event and delivery refs), and returns how many
// suppressions the window now holds.
func (s *loopStore) recordSuppression(ctx context.Context, acct, resource, inc string, refs []string, now time.Time, window time.Duration) (int64, error) {
	supKey := s.keys.Suppressions(acct, resource)
	pipe := s.rdb.TxPipeline()
	pipe.ZAdd(ctx, supKey, redis.Z{Score: float64(now.UnixMilli()), Member: ids.New("sup", now)})
	pipe.ZRemRangeByScore(ctx, supKey, "-inf", fmt.Sprint(now.Add(-window).UnixMilli()))
	pipe.PExpire(ctx, supKey, window)
	count := pipe.ZCard(ctx, supKey)
	pipe.HIncrBy(ctx, s.keys.Incident(acct, inc), "suppressed", 1)
	pipe.HSet(ctx, s.keys.Incident(acct, inc), "updated_at", now.UnixMilli())
	for _, ref := range refs {
		pipe.LRem(ctx, s.keys.IncidentEvents(acct, inc), 0, ref)
		pipe.RPush(ctx, s.keys.IncidentEvents(acct, inc), ref)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("inbound: record suppression: %w", err)
	}
	return count.Val(), nil
}

// openIncidentScript returns the resource's open incident, creating it.
// KEYS[1] open pointer STRING, KEYS[2] incident HASH (of the new id),
// KEYS[3] incidents ZSET. ARGV[1] new id, ARGV[2…] the new incident's
// field/value pairs. Returns the open incident's id.
var openIncidentScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return ARGV[1]
`)

func (s *loopStore) openIncident(ctx context.Context, acct, resource, chain string, cred auth.Credential, now time.Time) (string, error) {
	id := ids.New(ids.Incident, now)
	// The incident names the writer by its bare id, under the field of its
	// kind: "credential" for keys and connections, "endpoint" for endpoints.
	credential, endpoint := cred.ID, ""
	if cred.Kind == auth.KindEndpoint {
		credential, endpoint = "", cred.ID
	}
	res, err := openIncidentScript.Run(ctx, s.rdb,
		[]string{s.keys.OpenIncident(acct, resource), s.keys.Incident(acct, id), s.keys.Incidents(acct)},
		id, "id", id, "kind", "loop", "status", "open", "resource", resource, "chain", chain,
		"credential", credential, "endpoint", endpoint, "suppressed", 0, "paused", "",
		"created_at", now.UnixMilli(), "updated_at", now.UnixMilli(), "resolved_at", 0).Text()
	if err != nil {
		return "", fmt.Errorf("inbound: open incident: %w", err)
	}
	return res, nil
}

func (s *loopStore) incidentPage(ctx context.Context, acct, after string, limit int) ([]string, string, error) {
	return store.PageDesc(ctx, s.rdb, s.keys.Incidents(acct), after, limit)
}

func (s *loopStore) incident(ctx context.Context, acct, id string) (Incident, error) {
	pipe := s.rdb.Pipeline()
	hc := pipe.HGetAll(ctx, s.keys.Incident(acct, id))
	lc := pipe.LRange(ctx, s.keys.IncidentEvents(acct, id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Incident{}, fmt.Errorf("inbound: load incident %s: %w", id, err)
	}
	if len(hc.Val()) == 0 {
		return Incident{}, apperr.NotFound("incident")
	}
	return incidentFrom(hc.Val(), lc.Val()), nil
}

// resolve closes an incident and lifts what it paused.
func (s *loopStore) resolve(ctx context.Context, acct string, inc Incident, now time.Time) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.keys.Incident(acct, inc.ID), "status", "resolved", "resolved_at", now.UnixMilli(), "updated_at", now.UnixMilli())
	if inc.Paused != "" {
		pipe.Del(ctx, s.keys.Paused(acct, inc.Paused))
	}
	pipe.Del(ctx, s.keys.OpenIncident(acct, inc.Resource), s.keys.Suppressions(acct, inc.Resource))
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("inbound: resolve %s: %w", inc.ID, err)
	}
	return nil
}
