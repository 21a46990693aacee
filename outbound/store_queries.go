package outbound

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/store"
)

// The dashboard's read queries over the delivery log: the newest delivery
// of many webhooks, the deliveries of one event, and a webhook's
// deliveries since a time. Like store_deliveries.go, this file only reads.

// latest reads the newest delivery of each webhook in two round trips (the
// index heads, then their records). A webhook with no delivery, or whose
// newest one just expired, is absent from the map.
func (s *webhookStore) latest(ctx context.Context, acct string, whks []string) (map[string]Delivery, error) {
	out := map[string]Delivery{}
	if len(whks) == 0 {
		return out, nil
	}
	p := s.rdb.Pipeline()
	heads := make([]*redis.StringSliceCmd, len(whks))
	for i, w := range whks {
		heads[i] = p.ZRevRangeByLex(ctx, s.keys.DeliveriesByWebhook(acct, w), &redis.ZRangeBy{Max: "+", Min: "-", Count: 1})
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("outbound: latest deliveries: %w", err)
	}
	var keys []string
	for _, h := range heads {
		if v := h.Val(); len(v) == 1 {
			keys = append(keys, s.keys.Delivery(acct, v[0]))
		}
	}
	ms, err := store.LoadHashes(ctx, s.rdb, keys)
	if err != nil {
		return nil, fmt.Errorf("outbound: latest deliveries: %w", err)
	}
	for _, m := range ms {
		if len(m) > 0 {
			d := deliveryFrom(acct, m)
			out[d.WebhookID] = d
		}
	}
	return out, nil
}

// deliveriesByID reads deliveries by id in one round trip, in that order,
// skipping absent (never made, or expired) ones.
func (s *webhookStore) deliveriesByID(ctx context.Context, acct string, idList []string) ([]Delivery, error) {
	keys := make([]string, len(idList))
	for i, id := range idList {
		keys[i] = s.keys.Delivery(acct, id)
	}
	ms, err := store.LoadHashes(ctx, s.rdb, keys)
	if err != nil {
		return nil, fmt.Errorf("outbound: load deliveries: %w", err)
	}
	out := make([]Delivery, 0, len(ms))
	for _, m := range ms {
		if len(m) > 0 {
			out = append(out, deliveryFrom(acct, m))
		}
	}
	return out, nil
}

// since reads a webhook's deliveries made at or after t, newest first,
// keeping those that match keep, until max are kept; more reports whether
// a matching delivery was left out. The index holds at most
// Options.MaxPerWebhook entries, so the scan is bounded by it.
func (s *webhookStore) since(ctx context.Context, acct, whk string, t time.Time, max int, keep func(Delivery) bool) (out []Delivery, more bool, err error) {
	const chunk = 200
	index, upper := s.keys.DeliveriesByWebhook(acct, whk), "+"
	for {
		page, err := s.rdb.ZRevRangeByLex(ctx, index, &redis.ZRangeBy{
			Max: upper, Min: "[" + ids.Floor(ids.Delivery, t), Count: chunk,
		}).Result()
		if err != nil {
			return nil, false, fmt.Errorf("outbound: deliveries of %s since %s: %w", whk, t, err)
		}
		ds, err := s.deliveriesByID(ctx, acct, page)
		if err != nil {
			return nil, false, err
		}
		for _, d := range ds {
			if !keep(d) {
				continue
			}
			if len(out) == max {
				return out, true, nil
			}
			out = append(out, d)
		}
		if len(page) < chunk {
			return out, false, nil
		}
		upper = "(" + page[len(page)-1]
	}
}
