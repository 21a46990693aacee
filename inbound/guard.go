package inbound

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/customers"
	"github.com/hookline/hookline/app/ids"
)

// sentState is a state of a resource that an event carried out to
// subscriptions within the loop window.
type sentState struct {
	eventID   string
	eventTime time.Time
	print     string
	receivers []receiverRef
}

type receiverRef struct{ webhookID, keyID, ownerID string }

// fingerprint is a customer's data, ignoring ids, times and email case:
// two writes with equal fingerprints hold the same state.
func fingerprint(c customers.Customer) string {
	c = c.Normalized()
	return strings.Join([]string{c.Name, strings.ToLower(c.Email), c.Phone, c.Birthday, c.Notes, c.ExternalID}, "\x1f")
}

// sentStates returns the states of a customer that were fanned out to at
// least one subscription within the window, from the event log and the
// outbound engine's receivers.
func (s *Service) sentStates(ctx context.Context, acct, resource string) ([]sentState, error) {
	evs, err := s.log.ByResource(ctx, acct, resource, s.opts.Now().Add(-s.opts.Window))
	if err != nil {
		return nil, err
	}
	var out []sentState
	for _, ev := range evs {
		if ev.Type != catalog.CustomerCreated && ev.Type != catalog.CustomerUpdated {
			continue
		}
		rcv, err := s.out.Receivers(ctx, acct, ev.ID)
		if err != nil {
			return nil, err
		}
		if len(rcv) == 0 {
			continue // never left Hookline: nothing can echo it
		}
		var c customers.Customer
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			return nil, fmt.Errorf("inbound: decode %s: %w", ev.ID, err)
		}
		st := sentState{eventID: ev.ID, eventTime: ev.CreatedAt, print: fingerprint(c)}
		for _, r := range rcv {
			st.receivers = append(st.receivers, receiverRef{webhookID: r.WebhookID, keyID: r.KeyID, ownerID: r.OwnerID})
		}
		out = append(out, st)
	}
	return out, nil
}

// match finds a sent state equal to c.
func match(states []sentState, c customers.Customer) (sentState, bool) {
	fp := fingerprint(c)
	for i := len(states) - 1; i >= 0; i-- {
		if states[i].print == fp {
			return states[i], true
		}
	}
	return sentState{}, false
}

// tied reports whether the writer holds a subscription that received st:
// the same API key (a Zapier connection uses one key for its triggers and
// actions), or, for an inbound endpoint, a webhook of the endpoint's owner.
func tied(st sentState, o Origin, userID string) []receiverRef {
	var out []receiverRef
	for _, r := range st.receivers {
		if (o.KeyID != "" && r.keyID == o.KeyID) || (o.EndpointID != "" && r.ownerID == userID) {
			out = append(out, r)
		}
	}
	return out
}

// subject names the writer for the breaker.
func (o Origin) subject() string {
	if o.EndpointID != "" {
		return "endpoint:" + o.EndpointID
	}
	if o.KeyID != "" {
		return "key:" + o.KeyID
	}
	return ""
}

// checkPaused refuses a writer the breaker paused.
func (s *Service) checkPaused(ctx context.Context, acct string, o Origin) error {
	sub := o.subject()
	if sub == "" {
		return nil
	}
	inc, err := s.rdb.Get(ctx, s.keys.Paused(acct, sub)).Result()
	if err == redis.Nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inbound: breaker: %w", err)
	}
	what := "this API key"
	if o.EndpointID != "" {
		what = "this inbound endpoint"
	}
	return &apperr.Error{Code: apperr.CodeLoopSuspended, Message: fmt.Sprintf(
		"%s is paused: its writes kept echoing events Hookline had just sent it (a two-way sync loop, incident %s). "+
			"Fix the integration, then resume with POST /v1/incidents/%s/resolve", what, inc, inc)}
}

// suppress records a suppressed write. Tied writers open or extend the
// resource's incident, and past the threshold in the window are paused.
// Untied writers are simply deduplicated.
func (s *Service) suppress(ctx context.Context, acct, resource string, st sentState, o Origin, userID string) error {
	ties := tied(st, o, userID)
	if len(ties) == 0 {
		return nil
	}
	now := s.opts.Now()
	inc, err := s.openIncident(ctx, acct, resource, o, now)
	if err != nil {
		return err
	}
	var refs []string
	refs = append(refs, st.eventID)
	for _, r := range ties {
		refs = append(refs, "dlv:"+s.deliveryID(st, r.webhookID))
	}
	supKey := s.keys.Suppressions(acct, resource)
	pipe := s.rdb.TxPipeline()
	pipe.ZAdd(ctx, supKey, redis.Z{Score: float64(now.UnixMilli()), Member: ids.New("sup", now)})
	pipe.ZRemRangeByScore(ctx, supKey, "-inf", fmt.Sprint(now.Add(-s.opts.Window).UnixMilli()))
	pipe.PExpire(ctx, supKey, s.opts.Window)
	count := pipe.ZCard(ctx, supKey)
	pipe.HIncrBy(ctx, s.keys.Incident(acct, inc), "suppressed", 1)
	pipe.HSet(ctx, s.keys.Incident(acct, inc), "updated_at", now.UnixMilli())
	for _, ref := range refs {
		pipe.LRem(ctx, s.keys.IncidentEvents(acct, inc), 0, ref)
		pipe.RPush(ctx, s.keys.IncidentEvents(acct, inc), ref)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("inbound: record suppression: %w", err)
	}
	if count.Val() >= int64(s.opts.Threshold) {
		if sub := o.subject(); sub != "" {
			pipe := s.rdb.TxPipeline()
			pipe.Set(ctx, s.keys.Paused(acct, sub), inc, 0)
			pipe.HSet(ctx, s.keys.Incident(acct, inc), "paused", sub)
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("inbound: pause %s: %w", sub, err)
			}
			s.opts.Log.Warn("inbound: loop breaker paused a writer", "account_id", acct, "subject", sub, "incident_id", inc, "resource", resource)
		}
	}
	return nil
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

func (s *Service) openIncident(ctx context.Context, acct, resource string, o Origin, now time.Time) (string, error) {
	id := ids.New(ids.Incident, now)
	cred := o.KeyID
	res, err := openIncidentScript.Run(ctx, s.rdb,
		[]string{s.keys.OpenIncident(acct, resource), s.keys.Incident(acct, id), s.keys.Incidents(acct)},
		id, "id", id, "kind", "loop", "status", "open", "resource", resource, "chain", o.Chain,
		"credential", cred, "endpoint", o.EndpointID, "suppressed", 0, "paused", "",
		"created_at", now.UnixMilli(), "updated_at", now.UnixMilli(), "resolved_at", 0).Text()
	if err != nil {
		return "", fmt.Errorf("inbound: open incident: %w", err)
	}
	return res, nil
}
