package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/store"
)

// Options bound the log; zero values mean the defaults.
type Options struct {
	// Retention is how long events are kept. Zero means 30 days.
	Retention time.Duration
	// Max is how many events an account keeps. Zero means 10,000.
	Max int
	// DrainEvery is how often the outbox is checked for events a crash or
	// an error left behind; DrainGrace how long an event may sit there
	// before it is handed on again (a hand-off normally takes milliseconds;
	// handing on twice is harmless, emitters being idempotent). Zero means
	// 5 s and 15 s, so an event a crash left behind goes out within 20 s.
	DrainEvery, DrainGrace time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// MaxDataSize bounds a published event's data.
const MaxDataSize = 256 << 10

// Log is the account's event log. It records events, forwards them to the
// emitters (outbox.go), and answers reads under the read permission of
// each event's type (read.go).
type Log struct {
	rdb      redis.UniversalClient
	keys     store.Keys
	catalog  *catalog.Service
	opts     Options
	emitters atomic.Pointer[[]Emitter]
	guard    atomic.Pointer[WriteGuard]
}

// NewLog returns a Log.
func NewLog(rdb redis.UniversalClient, keys store.Keys, cat *catalog.Service, opts Options) *Log {
	if opts.Retention == 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.Max == 0 {
		opts.Max = 10_000
	}
	if opts.DrainEvery == 0 {
		opts.DrainEvery = 5 * time.Second
	}
	if opts.DrainGrace == 0 {
		opts.DrainGrace = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Log{rdb: rdb, keys: keys, catalog: cat, opts: opts}
}

// The stored form is a HASH: "envelope" holds the envelope's JSON exactly as
// deliveries send it (encoded once, at emit), "cause" its cause (storedCause)
// and, once fanned out, its receivers (ReceiversField). The envelope makes the hash a hashtable, where each field
// costs about 90 bytes: the cause is one field, not four. Events recorded
// before that kept chain, hop, credential and resource as fields of their
// own; they are still read.
var recordFields = []string{"envelope", "cause", "chain", "hop", "credential", "resource"}

// ReceiversField is the event HASH's field where fan-out (outbound) keeps
// who the event went to, one "<webhook id> <credential or -> <owner id>"
// per line, for the loop guard. It is the record's, so it is trimmed and
// expires with it.
const ReceiversField = "rcv"

// OpenField counts the deliveries of the event that have not ended yet
// (outbound raises it when it creates them and lowers it when each is
// delivered or fails, removing it at 0); TrimmedField marks an event the log's count or age
// bound trimmed while some were open, whose record outbound deletes when
// the count comes back to 0 (recordScript, record.go).
const (
	OpenField    = "open"
	TrimmedField = "trimmed"
)

// storedCause is the "cause" field's JSON.
type storedCause struct {
	Chain      string `json:"c,omitempty"`
	Hop        int    `json:"h,omitempty"`
	Credential string `json:"k,omitempty"`
	Resource   string `json:"r,omitempty"`
}

func packCause(c Cause) []byte {
	raw, _ := json.Marshal(storedCause(c)) // strings and an int: cannot fail
	return raw
}

func fromRecord(vals []any) (Event, []byte, bool) {
	str := func(i int) string { s, _ := vals[i].(string); return s }
	env := str(0)
	if env == "" {
		return Event{}, nil, false
	}
	var ev Event
	if err := json.Unmarshal([]byte(env), &ev); err != nil {
		return Event{}, nil, false
	}
	if packed := str(1); packed != "" {
		var c storedCause
		if err := json.Unmarshal([]byte(packed), &c); err != nil {
			return Event{}, nil, false
		}
		ev.Cause = Cause(c)
		return ev, []byte(env), true
	}
	hop, _ := strconv.Atoi(str(3))
	ev.Cause = Cause{Chain: str(2), Hop: hop, Credential: str(4), Resource: str(5)}
	return ev, []byte(env), true
}

// New fills an event's id and time, for emitters.
func (l *Log) New(acct, typ string, data json.RawMessage, cause Cause) Event {
	now := l.opts.Now().UTC().Truncate(time.Millisecond)
	if cause.Chain == "" {
		cause.Chain = ids.New(ids.Chain, now)
	}
	return Event{ID: ids.New(ids.Event, now), Type: typ, CreatedAt: now, AccountID: acct, Data: data, Cause: cause}
}

// Record stores ev in the log without forwarding it, for events that go to
// one subscription only (webhook tests).
func (l *Log) Record(ctx context.Context, ev Event) error { return l.record(ctx, ev, false, "") }

// publishedTTL is how long a publish's idempotency scope answers with its
// event: as long as idempotency records are kept.
const publishedTTL = 24 * time.Hour

// Get returns one event of the account, or not found.
func (l *Log) Get(ctx context.Context, acct, id string) (Event, error) {
	ev, _, err := l.Envelope(ctx, acct, id)
	return ev, err
}

// Envelope returns an event and its envelope JSON as stored, or not found.
func (l *Log) Envelope(ctx context.Context, acct, id string) (Event, []byte, error) {
	return l.EnvelopeFrom(l.QueueEnvelope(ctx, l.rdb, acct, id))
}

// QueueEnvelope queues the read of an event on a pipeline (or runs it on a
// client); EnvelopeFrom decodes the result. Deliveries use the pair to read
// the event in the same round trip as their own records.
func (l *Log) QueueEnvelope(ctx context.Context, c redis.Cmdable, acct, id string) *redis.SliceCmd {
	return c.HMGet(ctx, l.keys.Event(acct, id), recordFields...)
}

// EnvelopeFrom decodes what QueueEnvelope read.
func (l *Log) EnvelopeFrom(cmd *redis.SliceCmd) (Event, []byte, error) {
	vals, err := cmd.Result()
	if err != nil {
		return Event{}, nil, fmt.Errorf("events: load event: %w", err)
	}
	ev, env, ok := fromRecord(vals)
	if !ok {
		return Event{}, nil, apperr.NotFound("event")
	}
	return ev, env, nil
}
