package endpoints

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/store"
)

// addRequestScript stores one logged post and trims the endpoint's log to
// its bounds, deleting the records it trims (not only their index
// entries), so the log's memory is bounded by count as well as by age.
// KEYS[1] the record STRING, KEYS[2] the endpoint's request index ZSET.
// ARGV[1] the record's id, ARGV[2] its JSON, ARGV[3] its TTL (ms),
// ARGV[4] the count bound, ARGV[5] the age floor (a ZRANGEBYLEX bound:
// ids sort by time), ARGV[6] the index's TTL (ms), ARGV[7] the record key
// of an empty id (keys.InboundRequest(acct, "")), which trimmed ids are
// appended to: every record of the index shares KEYS[1]'s hash tag.
// Returns how many records it trimmed.
var addRequestScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
local old = redis.call('ZRANGEBYLEX', KEYS[2], '-', ARGV[5])
local n = redis.call('ZCARD', KEYS[2]) - #old - tonumber(ARGV[4])
if n > 0 then
  local over = redis.call('ZRANGE', KEYS[2], #old, #old + n - 1)
  for _, id in ipairs(over) do table.insert(old, id) end
end
for i = 1, #old, 500 do
  local ks, ms = {}, {}
  for j = i, math.min(i + 499, #old) do
    table.insert(ks, ARGV[7] .. old[j])
    table.insert(ms, old[j])
  end
  redis.call('DEL', unpack(ks))
  redis.call('ZREM', KEYS[2], unpack(ms))
end
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return #old
`)

// addRequest stores one logged post for ttl and trims the endpoint's log
// to max records and retention, without scans.
func (s *endpointStore) addRequest(ctx context.Context, acct string, r Request, ttl time.Duration, max int, retention time.Duration, now time.Time) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("endpoints: encode request %s: %w", r.ID, err)
	}
	floor := "(" + ids.Floor(ids.Request, now.Add(-retention))
	err = addRequestScript.Run(ctx, s.rdb,
		[]string{s.keys.InboundRequest(acct, r.ID), s.keys.InboundRequests(acct, r.EndpointID)},
		r.ID, raw, ttl.Milliseconds(), max, floor, retention.Milliseconds(), s.keys.InboundRequest(acct, "")).Err()
	if err != nil {
		return fmt.Errorf("endpoints: log request %s: %w", r.ID, err)
	}
	return nil
}

// countScript adds one to a counter field of an endpoint that still
// exists (a deleted one must not come back as a hash of one field).
// KEYS[1] endpoint HASH; ARGV[1] the field. Returns the new count, or 0.
var countScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
`)

// countRefused counts a post refused before verification or by the rate
// limit, on the endpoint's refused_<reason> field.
func (s *endpointStore) countRefused(ctx context.Context, e Endpoint, reason string) error {
	if err := countScript.Run(ctx, s.rdb, []string{s.keys.InboundEndpoint(e.AccountID, e.ID)}, "refused_"+reason).Err(); err != nil {
		return fmt.Errorf("endpoints: count refused post of %s: %w", e.ID, err)
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
