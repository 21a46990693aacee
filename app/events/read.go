package events

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/store"
)

// Recent returns up to limit of the account's events, newest first, of one
// type when typ is not empty, continuing after the id after. It checks no
// permission: callers on behalf of a principal use List.
func (l *Log) Recent(ctx context.Context, acct, typ, after string, limit int) ([]Event, string, error) {
	idx := l.keys.Events(acct)
	if typ != "" {
		idx = l.keys.EventsByType(acct, typ)
	}
	page, next, err := store.PageDesc(ctx, l.rdb, idx, after, limit)
	if err != nil || len(page) == 0 {
		return []Event{}, "", err
	}
	out, err := l.load(ctx, acct, page)
	return out, next, err
}

// ByResource returns the events about one resource made at or after since,
// oldest first. The loop guard reads the states recently sent out from it.
func (l *Log) ByResource(ctx context.Context, acct, resource string, since time.Time) ([]Event, error) {
	idList, err := l.rdb.ZRangeByLex(ctx, l.keys.EventsByResource(acct, resource), &redis.ZRangeBy{
		Min: "[" + ids.Floor(ids.Event, since), Max: "+",
	}).Result()
	if err != nil || len(idList) == 0 {
		return nil, err
	}
	return l.load(ctx, acct, idList)
}

// load reads events by id in one round trip, in order, skipping those that
// expired between an index read and this one.
func (l *Log) load(ctx context.Context, acct string, idList []string) ([]Event, error) {
	p := l.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(idList))
	for i, id := range idList {
		cmds[i] = p.HMGet(ctx, l.keys.Event(acct, id), recordFields...)
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("events: load %d events: %w", len(idList), err)
	}
	out := make([]Event, 0, len(cmds))
	for _, c := range cmds {
		if ev, _, ok := fromRecord(c.Val()); ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// readable returns the type of the event type typ if p may read it: an
// unknown type is a 422 on field, an unreadable one a 403 naming the
// permission.
func (l *Log) readable(ctx context.Context, p auth.Principal, typ, field string) (catalog.EventType, error) {
	t, err := l.catalog.Get(ctx, p.AccountID, typ)
	if apperr.IsCode(err, apperr.CodeNotFound) {
		return catalog.EventType{}, apperr.InvalidField(field, "is not an event type in the catalog")
	}
	if err != nil {
		return catalog.EventType{}, err
	}
	return t, p.Require(t.Permission)
}

// List is Recent for a caller: a type filter needs that type's read
// permission; without one, events the caller may not read are left out.
func (l *Log) List(ctx context.Context, p auth.Principal, typ, after string, limit int) ([]Event, string, error) {
	if typ != "" {
		if _, err := l.readable(ctx, p, typ, "type"); err != nil {
			return nil, "", err
		}
	}
	evs, next, err := l.Recent(ctx, p.AccountID, typ, after, limit)
	if err != nil || typ != "" {
		return evs, next, err
	}
	allowed := map[string]bool{}
	out := evs[:0]
	for _, ev := range evs {
		ok, seen := allowed[ev.Type]
		if !seen {
			t, err := l.catalog.Get(ctx, p.AccountID, ev.Type)
			ok = err == nil && p.Has(t.Permission)
			allowed[ev.Type] = ok
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out, next, nil
}

// Event returns one event of p's account. An event whose type p may not
// read is reported as not found, like an absent one, so ids cannot be
// probed.
func (l *Log) Event(ctx context.Context, p auth.Principal, id string) (Event, error) {
	if !ids.HasPrefix(id, ids.Event) {
		return Event{}, apperr.NotFound("event")
	}
	ev, err := l.Get(ctx, p.AccountID, id)
	if err != nil {
		return Event{}, err
	}
	t, err := l.catalog.Get(ctx, p.AccountID, ev.Type)
	if err != nil || !p.Has(t.Permission) {
		return Event{}, apperr.NotFound("event")
	}
	return ev, nil
}

// Samples returns up to limit of the account's latest events of one type,
// newest first, each exactly the envelope a live delivery carries; when
// there are none yet, the catalog's sample in that same shape (id and time
// of now). Subscription surfaces (Zapier's performList, IFTTT's triggers)
// show them. p needs the type's read permission (403); an unknown type is
// a 404.
func (l *Log) Samples(ctx context.Context, p auth.Principal, typ string, limit int) ([]Event, error) {
	t, err := l.catalog.Get(ctx, p.AccountID, typ)
	if err != nil {
		return nil, err
	}
	if err := p.Require(t.Permission); err != nil {
		return nil, err
	}
	evs, _, err := l.Recent(ctx, p.AccountID, typ, "", limit)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		now := l.opts.Now().UTC().Truncate(time.Millisecond)
		evs = []Event{{ID: ids.Floor(ids.Event, now), Type: t.Name, CreatedAt: now, AccountID: p.AccountID, Data: t.Sample}}
	}
	return evs, nil
}
