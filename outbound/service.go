package outbound

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/catalog"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/app/validate"
	"github.com/hookline/hookline/outbound/safehttp"
	"github.com/hookline/hookline/outbound/signing"
)

// DefaultQueue is the Asynq queue deliveries use unless Options.Queue says otherwise.
const DefaultQueue = "deliveries"

// Options tune the engine; zero values mean the defaults.
type Options struct {
	// Policy decides which targets may be delivered to.
	Policy safehttp.Policy
	// RetrySchedule is the wait before each retry. Nil means 5m, 10m.
	RetrySchedule []time.Duration
	// Version goes into User-Agent: Hookline/<version>.
	Version string
	// Queue is the Asynq queue of deliveries. Empty means "deliveries".
	Queue string
	// Retention bounds the delivery log by age. Zero means 30 days.
	Retention time.Duration
	// MaxPerWebhook bounds the log by count per webhook. Zero means 10,000.
	MaxPerWebhook int
	// DisableAfter is the run of failed deliveries that disables a webhook. Zero means 20.
	DisableAfter int
	// PerWebhookConcurrency caps one webhook's requests in flight per worker
	// process, so a slow endpoint cannot take every worker. Zero means 10.
	PerWebhookConcurrency int
	// RotationOverlap is how long an old secret keeps signing. Zero means 24 h.
	RotationOverlap time.Duration
	// ReconcileEvery is how often pending deliveries are checked for lost
	// tasks; ReconcileGrace how late one must be to be checked. Zero means
	// 30 s and 2 min.
	ReconcileEvery, ReconcileGrace time.Duration
	// Jitter spreads retries by ± this fraction. Zero means 0.1; negative none.
	Jitter float64
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Reasons a webhook is removed, as OnRemoved hooks see them.
const (
	RemovedByUser     = "api"     // DELETE /v1/webhooks/{id}
	RemovedByReceiver = "gone"    // the receiver answered 410
	RemovedByRevoke   = "revoked" // the credential that created it was revoked
	RemovedByPartner  = "partner" // the integration's own unsubscribe call
)

// OnRemoved registers f to run after a webhook is deleted, with why.
// Integrations use it (Zapier's reverse unsubscribe). Call it while wiring,
// before serving.
func (s *Service) OnRemoved(f func(ctx context.Context, w Webhook, why string)) {
	s.onRemoved = append(s.onRemoved, f)
}

// Deps are the core services the engine reads.
type Deps struct {
	Keys     store.Keys
	Catalog  *catalog.Service
	Events   *events.Log
	Accounts *accounts.Service
}

// Service is the outbound delivery engine.
type Service struct {
	st        *webhookStore
	q         *asynq.Client
	inspector *asynq.Inspector
	deps      Deps
	opts      Options
	client    *http.Client
	limiter   *redis_rate.Limiter
	sems      sync.Map // webhook id → chan struct{}
	onRemoved []func(ctx context.Context, w Webhook, why string)
}

// New returns the engine. q enqueues delivery tasks.
func New(rdb redis.UniversalClient, q *asynq.Client, deps Deps, opts Options) *Service {
	if opts.RetrySchedule == nil {
		opts.RetrySchedule = []time.Duration{5 * time.Minute, 10 * time.Minute}
	}
	if opts.Queue == "" {
		opts.Queue = DefaultQueue
	}
	if opts.Retention == 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.MaxPerWebhook == 0 {
		opts.MaxPerWebhook = 10_000
	}
	if opts.DisableAfter == 0 {
		opts.DisableAfter = 20
	}
	if opts.PerWebhookConcurrency == 0 {
		opts.PerWebhookConcurrency = 10
	}
	if opts.RotationOverlap == 0 {
		opts.RotationOverlap = 24 * time.Hour
	}
	if opts.ReconcileEvery == 0 {
		opts.ReconcileEvery = 30 * time.Second
	}
	if opts.ReconcileGrace == 0 {
		opts.ReconcileGrace = 2 * time.Minute
	}
	if opts.Jitter == 0 {
		opts.Jitter = 0.1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	return &Service{
		st: &webhookStore{rdb: rdb, keys: deps.Keys}, q: q, inspector: asynq.NewInspectorFromRedisClient(rdb),
		deps: deps, opts: opts, client: opts.Policy.NewClient(), limiter: redis_rate.NewLimiter(rdb),
	}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// ---- inputs

// AuthInput is how a client sets a webhook's auth.
type AuthInput struct {
	Type     string `json:"type" validate:"required,oneof=none basic bearer"`
	Username string `json:"username" validate:"max=200"`
	Password string `json:"password" validate:"max=500"`
	Token    string `json:"token" validate:"max=2000"`
}

// NewWebhook is the input to CreateWebhook.
type NewWebhook struct {
	Name          string            `json:"name" validate:"required,max=100"`
	URL           string            `json:"url" validate:"required,max=2000"`
	Method        string            `json:"method" validate:"omitempty,oneof=POST GET"`
	Events        []string          `json:"events" validate:"required,min=1,max=50,dive,required,max=81"`
	Auth          *AuthInput        `json:"auth"`
	Headers       map[string]string `json:"headers" validate:"max=20"`
	RetrySchedule []string          `json:"retry_schedule" validate:"omitempty,max=10"`
	Timeout       string            `json:"timeout" validate:"max=20"`
	RateLimit     float64           `json:"rate_limit" validate:"gte=0,lte=1000"`

	// Source and Active are set by integrations, never decoded from clients.
	Source string `json:"-"`
	Active bool   `json:"-"`
}

// WebhookPatch is the input to UpdateWebhook; nil fields stay as they are.
type WebhookPatch struct {
	Name          *string            `json:"name" validate:"omitempty,min=1,max=100"`
	URL           *string            `json:"url" validate:"omitempty,max=2000"`
	Method        *string            `json:"method" validate:"omitempty,oneof=POST GET"`
	Events        []string           `json:"events" validate:"omitempty,min=1,max=50,dive,required,max=81"`
	Auth          *AuthInput         `json:"auth"`
	Headers       *map[string]string `json:"headers"`
	RetrySchedule *[]string          `json:"retry_schedule"`
	Timeout       *string            `json:"timeout"`
	RateLimit     *float64           `json:"rate_limit" validate:"omitempty,gte=0,lte=1000"`
	Active        *bool              `json:"active"`
}

// reservedHeaders are set by Hookline on every request.
var reservedHeaders = map[string]bool{
	"content-type": true, "content-length": true, "host": true, "user-agent": true, "connection": true,
	"transfer-encoding": true, "webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
	"signature": true, "idempotency-key": true,
}

// settings are the checked, parsed parts shared by create and update.
type settings struct {
	timeout  time.Duration
	schedule []time.Duration
}

func (s *Service) checkURL(ctx context.Context, raw string) *apperr.FieldError {
	if err := s.opts.Policy.CheckURL(ctx, raw); err != nil {
		return &apperr.FieldError{Field: "url", Message: err.Error()}
	}
	return nil
}

func checkHeaders(h map[string]string, auth string) []apperr.FieldError {
	var fields []apperr.FieldError
	for name, v := range h {
		lower := strings.ToLower(name)
		switch {
		case !validate.HeaderName(name):
			fields = append(fields, apperr.FieldError{Field: "headers." + name, Message: "is not a valid header name"})
		case reservedHeaders[lower] || strings.HasPrefix(lower, "hookline-"):
			fields = append(fields, apperr.FieldError{Field: "headers." + name, Message: "is set by Hookline and cannot be overridden"})
		case lower == "authorization" && auth != "none":
			fields = append(fields, apperr.FieldError{Field: "headers." + name, Message: "conflicts with auth; use one or the other"})
		case len(v) > 1000 || strings.ContainsAny(v, "\r\n\x00"):
			fields = append(fields, apperr.FieldError{Field: "headers." + name, Message: "must be at most 1000 characters on one line"})
		}
	}
	return fields
}

func checkAuth(a *AuthInput) (Auth, []apperr.FieldError) {
	if a == nil {
		return Auth{Type: "none"}, nil
	}
	switch a.Type {
	case "basic":
		if a.Username == "" {
			return Auth{}, []apperr.FieldError{{Field: "auth.username", Message: "is required for basic auth"}}
		}
		return Auth{Type: "basic", Username: a.Username, Secret: a.Password}, nil
	case "bearer":
		if a.Token == "" || strings.ContainsAny(a.Token, "\r\n ") {
			return Auth{}, []apperr.FieldError{{Field: "auth.token", Message: "is required for bearer auth and must be one word"}}
		}
		return Auth{Type: "bearer", Secret: a.Token}, nil
	}
	return Auth{Type: "none"}, nil
}

func parseTimeout(s string) (time.Duration, *apperr.FieldError) {
	if s == "" {
		return 15 * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || d > 60*time.Second {
		return 0, &apperr.FieldError{Field: "timeout", Message: "must be a duration from 1s to 60s, such as 15s"}
	}
	return d, nil
}

func (s *Service) parseSchedule(in []string) ([]time.Duration, []apperr.FieldError) {
	if in == nil {
		return append([]time.Duration(nil), s.opts.RetrySchedule...), nil
	}
	out := make([]time.Duration, 0, len(in))
	for i, v := range in {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 24*time.Hour {
			return nil, []apperr.FieldError{{Field: fmt.Sprintf("retry_schedule[%d]", i), Message: "must be a duration from 1s to 24h, such as 5m"}}
		}
		out = append(out, d)
	}
	return out, nil
}

// checkEvents checks that each type is in the catalog and readable by p:
// a webhook must never read data its owner may not read.
func (s *Service) checkEvents(ctx context.Context, p auth.Principal, evs []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i, e := range evs {
		t, err := s.deps.Catalog.Get(ctx, p.AccountID, e)
		if apperr.IsCode(err, apperr.CodeNotFound) {
			return nil, apperr.InvalidField(fmt.Sprintf("events[%d]", i), fmt.Sprintf("%q is not an event type in the catalog", e))
		}
		if err != nil {
			return nil, err
		}
		if err := p.Require(t.Permission); err != nil {
			ae := apperr.As(err)
			ae.Message = fmt.Sprintf("subscribing to %s needs the %q permission", e, t.Permission)
			return nil, ae
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, nil
}

func requireWebhookPerm(p auth.Principal) error {
	if p.Has(perm.SubscribeWebhook) || p.Has(perm.ManageWebhook) {
		return nil
	}
	return apperr.Forbidden(perm.SubscribeWebhook)
}

// CreateWebhook creates a webhook owned by p's user, inactive unless the
// input says otherwise (integrations), with a fresh signing secret that is
// returned once. The caller needs subscribe:webhook and each event type's
// read permission.
func (s *Service) CreateWebhook(ctx context.Context, p auth.Principal, in NewWebhook) (Webhook, error) {
	if err := requireWebhookPerm(p); err != nil {
		return Webhook{}, err
	}
	in.Name, in.URL = strings.TrimSpace(in.Name), strings.TrimSpace(in.URL)
	if err := validate.Struct(&in); err != nil {
		return Webhook{}, err
	}
	var fields []apperr.FieldError
	if f := s.checkURL(ctx, in.URL); f != nil {
		fields = append(fields, *f)
	}
	a, af := checkAuth(in.Auth)
	fields = append(fields, af...)
	fields = append(fields, checkHeaders(in.Headers, a.Type)...)
	timeout, tf := parseTimeout(in.Timeout)
	if tf != nil {
		fields = append(fields, *tf)
	}
	sched, sf := s.parseSchedule(in.RetrySchedule)
	fields = append(fields, sf...)
	if len(fields) > 0 {
		return Webhook{}, apperr.Invalid(fields...)
	}
	evs, err := s.checkEvents(ctx, p, in.Events)
	if err != nil {
		return Webhook{}, err
	}
	if in.Method == "" {
		in.Method = http.MethodPost
	}
	if in.Source == "" {
		in.Source = SourceAPI
	}
	now := s.now()
	w := Webhook{
		ID: ids.New(ids.Webhook, now), AccountID: p.AccountID, OwnerID: p.UserID, Credential: p.Credential.String(), Source: in.Source,
		Name: in.Name, URL: in.URL, Method: in.Method, Events: evs, Auth: a, Headers: in.Headers,
		RetrySchedule: sched, Timeout: timeout, RateLimit: in.RateLimit, Active: in.Active,
		Secret: signing.NewSecret(), CreatedAt: now, UpdatedAt: now,
	}
	if err := s.st.save(ctx, Webhook{}, w); err != nil {
		return Webhook{}, err
	}
	return w, nil
}

// Webhook returns one webhook. A webhook owned by another user is reported
// as not found unless p holds manage:webhook, so ids cannot be probed.
func (s *Service) Webhook(ctx context.Context, p auth.Principal, id string) (Webhook, error) {
	if err := requireWebhookPerm(p); err != nil {
		return Webhook{}, err
	}
	if !ids.HasPrefix(id, ids.Webhook) {
		return Webhook{}, apperr.NotFound("webhook")
	}
	w, err := s.st.get(ctx, p.AccountID, id)
	if err != nil {
		return Webhook{}, err
	}
	if w.OwnerID != p.UserID && !p.Has(perm.ManageWebhook) {
		return Webhook{}, apperr.NotFound("webhook")
	}
	return w, nil
}

// Webhooks lists the webhooks p may see, newest first.
func (s *Service) Webhooks(ctx context.Context, p auth.Principal, after string, limit int) ([]Webhook, string, error) {
	if err := requireWebhookPerm(p); err != nil {
		return nil, "", err
	}
	ws, next, err := s.st.list(ctx, p.AccountID, after, limit)
	if err != nil || p.Has(perm.ManageWebhook) {
		return ws, next, err
	}
	own := ws[:0]
	for _, w := range ws {
		if w.OwnerID == p.UserID {
			own = append(own, w)
		}
	}
	return own, next, nil
}

// UpdateWebhook applies a patch. Turning a webhook on clears a disabled
// reason and sends it a webhook.test event at once.
func (s *Service) UpdateWebhook(ctx context.Context, p auth.Principal, id string, in WebhookPatch) (Webhook, error) {
	old, err := s.Webhook(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	if err := validate.Struct(&in); err != nil {
		return Webhook{}, err
	}
	w := old
	var fields []apperr.FieldError
	if in.Name != nil {
		w.Name = strings.TrimSpace(*in.Name)
		if w.Name == "" {
			fields = append(fields, apperr.FieldError{Field: "name", Message: "is required"})
		}
	}
	if in.URL != nil {
		w.URL = strings.TrimSpace(*in.URL)
		if f := s.checkURL(ctx, w.URL); f != nil {
			fields = append(fields, *f)
		}
	}
	if in.Method != nil {
		w.Method = *in.Method
	}
	if in.Auth != nil {
		a, af := checkAuth(in.Auth)
		fields = append(fields, af...)
		w.Auth = a
	}
	if in.Headers != nil {
		w.Headers = *in.Headers
		if len(w.Headers) > 20 {
			fields = append(fields, apperr.FieldError{Field: "headers", Message: "must have at most 20 items"})
		}
	}
	if in.Headers != nil || in.Auth != nil {
		fields = append(fields, checkHeaders(w.Headers, w.Auth.Type)...)
	}
	if in.Timeout != nil {
		t, tf := parseTimeout(*in.Timeout)
		if tf != nil {
			fields = append(fields, *tf)
		}
		w.Timeout = t
	}
	if in.RetrySchedule != nil && len(*in.RetrySchedule) > 10 {
		fields = append(fields, apperr.FieldError{Field: "retry_schedule", Message: "must have at most 10 items"})
	} else if in.RetrySchedule != nil {
		sched, sf := s.parseSchedule(*in.RetrySchedule)
		fields = append(fields, sf...)
		w.RetrySchedule = sched
	}
	if in.RateLimit != nil {
		w.RateLimit = *in.RateLimit
	}
	if len(fields) > 0 {
		return Webhook{}, apperr.Invalid(fields...)
	}
	if in.Events != nil {
		evs, err := s.checkEvents(ctx, p, in.Events)
		if err != nil {
			return Webhook{}, err
		}
		w.Events = evs
	}
	activated := false
	if in.Active != nil {
		if *in.Active && !old.Active {
			activated = true
			w.DisabledReason, w.DisabledAt, w.ConsecutiveFailures = "", time.Time{}, 0
		}
		w.Active = *in.Active
	}
	w.UpdatedAt = s.now()
	if err := s.st.save(ctx, old, w); err != nil {
		return Webhook{}, err
	}
	if activated {
		if _, err := s.sendTest(ctx, w); err != nil {
			return Webhook{}, err
		}
	}
	return w, nil
}

// DeleteWebhook deletes a webhook. Its deliveries stay readable by id, for
// callers holding manage:webhook, until they expire.
func (s *Service) DeleteWebhook(ctx context.Context, p auth.Principal, id string) (Webhook, error) {
	w, err := s.Webhook(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	return w, s.remove(ctx, w, RemovedByUser)
}

// RemoveWebhook deletes one of p's webhooks of the given source (any source
// when empty), recording why; a webhook of another source is not found.
func (s *Service) RemoveWebhook(ctx context.Context, p auth.Principal, id, source, why string) (Webhook, error) {
	w, err := s.Webhook(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	if source != "" && w.Source != source {
		return Webhook{}, apperr.NotFound("webhook")
	}
	return w, s.remove(ctx, w, why)
}

func (s *Service) remove(ctx context.Context, w Webhook, why string) error {
	if err := s.st.delete(ctx, w); err != nil {
		return err
	}
	for _, f := range s.onRemoved {
		f(ctx, w, why)
	}
	return nil
}

// SendUnsubscribe tells a removed webhook's receiver it is gone, with a
// DELETE to its URL through the same guarded client as deliveries: REST
// Hooks partners (Zapier) pause the subscription on it. Best effort: the
// outcome is logged, never returned.
func (s *Service) SendUnsubscribe(ctx context.Context, w Webhook) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, w.URL, nil)
	if err != nil {
		s.opts.Log.Warn("outbound: reverse unsubscribe", "webhook_id", w.ID, "err", err)
		return
	}
	req.Header.Set("User-Agent", "Hookline/"+s.opts.Version)
	res, err := s.client.Do(req)
	if err != nil {
		s.opts.Log.Warn("outbound: reverse unsubscribe failed", "webhook_id", w.ID, "error_class", safehttp.Classify(err))
		return
	}
	res.Body.Close()
	s.opts.Log.Info("outbound: reverse unsubscribe sent", "webhook_id", w.ID, "status", res.StatusCode)
}

// RotateSecret gives the webhook a new secret; the old one keeps signing
// beside it for RotationOverlap (24 h), so receivers can switch without loss.
func (s *Service) RotateSecret(ctx context.Context, p auth.Principal, id string) (Webhook, error) {
	w, err := s.Webhook(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	now := s.now()
	w.PrevSecret, w.PrevSecretUntil, w.Secret, w.UpdatedAt = w.Secret, now.Add(s.opts.RotationOverlap), signing.NewSecret(), now
	ok, err := s.st.setFields(ctx, w.AccountID, w.ID, "secret", w.Secret, "prev_secret", w.PrevSecret,
		"prev_secret_until", store.MS(w.PrevSecretUntil), "updated_at", store.MS(now))
	if err != nil {
		return Webhook{}, err
	}
	if !ok {
		return Webhook{}, apperr.NotFound("webhook")
	}
	return w, nil
}

// SendTest sends the webhook a webhook.test event now, active or not.
func (s *Service) SendTest(ctx context.Context, p auth.Principal, id string) (Delivery, error) {
	w, err := s.Webhook(ctx, p, id)
	if err != nil {
		return Delivery{}, err
	}
	return s.sendTest(ctx, w)
}

// TestEventType is the type of the event sent by SendTest and on activation.
const TestEventType = "webhook.test"

func (s *Service) sendTest(ctx context.Context, w Webhook) (Delivery, error) {
	data := fmt.Sprintf(`{"webhook_id":%q,"message":"This is a test event from Hookline."}`, w.ID)
	ev := s.deps.Events.New(w.AccountID, TestEventType, []byte(data), events.Cause{})
	if err := s.deps.Events.Record(ctx, ev); err != nil {
		return Delivery{}, err
	}
	ds, err := s.fanOut(ctx, ev, []Webhook{w}, true)
	if err != nil || len(ds) == 0 {
		return Delivery{}, err
	}
	return ds[0], nil
}

// Emit fans an event out to the account's active webhooks subscribed to its
// type whose owners may still read it: one delivery per (event, webhook),
// written first, then its task. A repeated Emit of the same event finds the
// deliveries it made and enqueues nothing twice. It satisfies events.Emitter.
func (s *Service) Emit(ctx context.Context, ev events.Event) error {
	subs, err := s.st.subscribers(ctx, ev.AccountID, ev.Type)
	if err != nil || len(subs) == 0 {
		return err
	}
	t, err := s.deps.Catalog.Get(ctx, ev.AccountID, ev.Type)
	if err != nil {
		return fmt.Errorf("outbound: type of %s: %w", ev.ID, err)
	}
	owners := map[string]bool{}
	active := subs[:0]
	for _, w := range subs {
		if !w.Active {
			continue
		}
		may, seen := owners[w.OwnerID]
		if !seen {
			u, err := s.deps.Accounts.User(ctx, ev.AccountID, w.OwnerID)
			may = err == nil && perm.NewSet(u.Permissions...).Has(t.Permission)
			owners[w.OwnerID] = may
		}
		if !may {
			s.opts.Log.Warn("outbound: owner may no longer read the event; not delivered",
				"webhook_id", w.ID, "event_id", ev.ID, "permission", t.Permission)
			continue
		}
		active = append(active, w)
	}
	_, err = s.fanOut(ctx, ev, active, false)
	return err
}

func (s *Service) fanOut(ctx context.Context, ev events.Event, ws []Webhook, test bool) ([]Delivery, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	now := s.now()
	ds := make([]Delivery, len(ws))
	for i, w := range ws {
		ds[i] = Delivery{
			ID: DeliveryID(ev.ID, w.ID, ev.CreatedAt), AccountID: ev.AccountID, WebhookID: w.ID,
			EventID: ev.ID, EventType: ev.Type, URL: w.URL, Status: StatusPending,
			CreatedAt: now, NextAttemptAt: now, Gen: 1, Test: test,
		}
	}
	floor := ids.Floor(ids.Delivery, now.Add(-s.opts.Retention))
	created, err := s.st.createDeliveries(ctx, ds, ws, s.opts.Retention, s.opts.MaxPerWebhook, floor)
	if err != nil {
		return nil, err
	}
	for i, d := range ds {
		if !created[i] {
			continue // made by an earlier fan-out of this event; its task exists or the reconciler restores it
		}
		if err := s.enqueue(ctx, d, time.Time{}, ""); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// Receiver is a subscription an event was fanned out to, as the loop guard
// needs it: which credential created the webhook and which user owns it.
// It outlives the webhook (a 410 deletes the webhook, not this).
type Receiver struct {
	WebhookID  string
	Credential string // auth.Credential.String of the creator, "" when none
	OwnerID    string
}

// Receivers returns the subscriptions an event was fanned out to.
func (s *Service) Receivers(ctx context.Context, acct, eventID string) ([]Receiver, error) {
	return s.st.receivers(ctx, acct, eventID)
}

// Deliveries lists a webhook's deliveries newest first, optionally only
// those with a status or event type.
func (s *Service) Deliveries(ctx context.Context, p auth.Principal, whk, status, eventType, after string, limit int) ([]Delivery, string, error) {
	if _, err := s.Webhook(ctx, p, whk); err != nil {
		return nil, "", err
	}
	switch status {
	case "", StatusPending, StatusDelivered, StatusFailed, StatusSuppressed:
	default:
		return nil, "", apperr.InvalidField("status", "must be one of: pending, delivered, failed, suppressed")
	}
	return s.st.deliveries(ctx, p.AccountID, whk, after, limit, func(d Delivery) bool {
		return (status == "" || d.Status == status) && (eventType == "" || d.EventType == eventType)
	})
}

// DeliveryDetail is a delivery with its payload and every attempt.
type DeliveryDetail struct {
	Delivery
	Payload  []byte
	Attempts []Attempt
}

// Delivery returns one delivery with its payload and attempts. Deliveries
// of another user's webhook are not found unless p holds manage:webhook.
func (s *Service) Delivery(ctx context.Context, p auth.Principal, id string) (DeliveryDetail, error) {
	if err := requireWebhookPerm(p); err != nil {
		return DeliveryDetail{}, err
	}
	if !ids.HasPrefix(id, ids.Delivery) {
		return DeliveryDetail{}, apperr.NotFound("delivery")
	}
	d, err := s.st.delivery(ctx, p.AccountID, id)
	if err != nil {
		return DeliveryDetail{}, err
	}
	if !p.Has(perm.ManageWebhook) {
		w, err := s.st.get(ctx, p.AccountID, d.WebhookID)
		if err != nil || w.OwnerID != p.UserID {
			return DeliveryDetail{}, apperr.NotFound("delivery")
		}
	}
	atts, err := s.st.attempts(ctx, p.AccountID, id)
	if err != nil {
		return DeliveryDetail{}, err
	}
	_, env, err := s.deps.Events.Envelope(ctx, p.AccountID, d.EventID)
	if err != nil && !apperr.IsCode(err, apperr.CodeNotFound) {
		return DeliveryDetail{}, err
	}
	return DeliveryDetail{Delivery: d, Payload: env, Attempts: atts}, nil
}

// Redeliver schedules a new attempt of a delivered or failed delivery now;
// it is logged like the others, with trigger "redeliver". If that attempt
// fails while the webhook's retry schedule still has tries left for the
// delivery, they follow. A pending delivery is a conflict: its next attempt
// is already coming.
func (s *Service) Redeliver(ctx context.Context, p auth.Principal, id string) (Delivery, error) {
	dd, err := s.Delivery(ctx, p, id)
	if err != nil {
		return Delivery{}, err
	}
	if dd.Payload == nil {
		return Delivery{}, apperr.Conflict("the event of this delivery is past retention and cannot be sent again")
	}
	if _, err := s.st.get(ctx, p.AccountID, dd.WebhookID); err != nil {
		return Delivery{}, apperr.Conflict("the webhook of this delivery was deleted")
	}
	if dd.Status == StatusPending {
		return Delivery{}, apperr.Conflict("the delivery is still pending; its next attempt is already scheduled")
	}
	d := dd.Delivery
	d.Gen++
	d.Status, d.NextAttemptAt = StatusPending, s.now()
	ok, err := s.st.reschedule(ctx, p.AccountID, d.ID, dd.Gen, d.Gen, d.NextAttemptAt)
	if err != nil {
		return Delivery{}, err
	}
	if !ok {
		return Delivery{}, apperr.Conflict("the delivery changed while being redelivered; retry")
	}
	if err := s.enqueue(ctx, d, time.Time{}, "redeliver"); err != nil {
		return Delivery{}, err
	}
	return d, nil
}

// RemoveWebhooksOfCredential deletes the webhooks created with a
// credential (of one source, any when empty), for integrations whose
// subscriptions live and die with their connection. An empty credential
// id removes nothing: it would match every webhook made without one.
func (s *Service) RemoveWebhooksOfCredential(ctx context.Context, acct string, cred auth.Credential, source string) error {
	if cred.ID == "" {
		return fmt.Errorf("outbound: remove webhooks of a credential: empty credential id")
	}
	want := cred.String()
	after := ""
	for {
		ws, next, err := s.st.list(ctx, acct, after, 200)
		if err != nil {
			return err
		}
		for _, w := range ws {
			if w.Credential == want && (source == "" || w.Source == source) {
				if err := s.remove(ctx, w, RemovedByRevoke); err != nil {
					return err
				}
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}
