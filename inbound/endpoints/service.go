package endpoints

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/idempotency"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/redact"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/app/validate"
	"github.com/hookline/hookline/inbound"
)

// Options tune the service; zero values mean the defaults.
type Options struct {
	// BaseURL is the public base of endpoint URLs (BaseURL + "/in/" + token).
	// Empty means "http://localhost:8080".
	BaseURL string
	// MaxBody is the largest post accepted. Zero means 256 KiB.
	MaxBody int
	// DefaultRateLimit is an endpoint's posts per minute unless it sets its
	// own. Zero means 60.
	DefaultRateLimit int
	// LogMax bounds each endpoint's request log by count. Zero means 1,000.
	LogMax int
	// LogRetention bounds the request log by age. Zero means 30 days.
	LogRetention time.Duration
	// LogBodyMax is how much of a body the log keeps. Zero means 8 KiB.
	LogBodyMax int
	// IdempotencyTTL is how long a sender key's first answer is replayed.
	// Zero means 24 h. IdempotencyLease is how long a post still running
	// holds its key. Zero means 60 s.
	IdempotencyTTL, IdempotencyLease time.Duration
	// Tolerance is how far a Standard Webhooks timestamp may be from now.
	// Zero means 5 minutes.
	Tolerance time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Service manages inbound endpoints and receives their posts.
type Service struct {
	st       *endpointStore
	accounts *accounts.Service
	actions  *inbound.Service
	limiter  *redis_rate.Limiter
	idem     *idempotency.Store // sender ids: Idempotency-Key or webhook-id
	opts     Options
}

// New returns a Service that runs each post's action through actions.Run,
// whose *apperr.Error values are relayed to the sender.
func New(rdb redis.UniversalClient, keys store.Keys, accts *accounts.Service, actions *inbound.Service, opts Options) *Service {
	if opts.BaseURL == "" {
		opts.BaseURL = "http://localhost:8080"
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.MaxBody == 0 {
		opts.MaxBody = 256 << 10
	}
	if opts.DefaultRateLimit == 0 {
		opts.DefaultRateLimit = 60
	}
	if opts.LogMax == 0 {
		opts.LogMax = 1000
	}
	if opts.LogRetention == 0 {
		opts.LogRetention = 30 * 24 * time.Hour
	}
	if opts.LogBodyMax == 0 {
		opts.LogBodyMax = 8 << 10
	}
	if opts.IdempotencyTTL == 0 {
		opts.IdempotencyTTL = 24 * time.Hour
	}
	if opts.IdempotencyLease == 0 {
		opts.IdempotencyLease = 60 * time.Second
	}
	if opts.Tolerance == 0 {
		opts.Tolerance = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Service{
		st: &endpointStore{rdb: rdb, keys: keys}, accounts: accts, actions: actions,
		limiter: redis_rate.NewLimiter(rdb), opts: opts,
		idem: idempotency.New(rdb, keys, idempotency.Options{TTL: opts.IdempotencyTTL, Lease: opts.IdempotencyLease}),
	}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// URL is an endpoint's public URL for a token.
func (s *Service) URL(token string) string { return s.opts.BaseURL + "/in/" + token }

// NewEndpoint is the input to Create.
type NewEndpoint struct {
	Name         string                     `json:"name" validate:"required,max=100"`
	Action       string                     `json:"action" validate:"required,max=50"`
	Mapping      map[string]json.RawMessage `json:"mapping"`
	Verification *VerificationInput         `json:"verification"`
	SuccessURL   string                     `json:"success_url" validate:"max=2000"`
	RateLimit    int                        `json:"rate_limit" validate:"gte=0,lte=6000"`
}

// Patch is the input to Update; nil fields stay as they are. A mapping
// replaces the old one whole; a verification replaces the old one, secret
// included; "" clears success_url.
type Patch struct {
	Name         *string                     `json:"name" validate:"omitempty,max=100"`
	Mapping      *map[string]json.RawMessage `json:"mapping"`
	Verification *VerificationInput          `json:"verification"`
	SuccessURL   *string                     `json:"success_url" validate:"omitempty,max=2000"`
	Paused       *bool                       `json:"paused"`
	RateLimit    *int                        `json:"rate_limit" validate:"omitempty,gte=1,lte=6000"`
}

// Secrets are shown once: the endpoint's token (inside its URL) and its
// verification secret ("" for none).
type Secrets struct {
	Token        string
	Verification string
}

func checkSuccessURL(raw string) *apperr.FieldError {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return &apperr.FieldError{Field: "success_url", Message: "must be an absolute http or https URL without credentials"}
	}
	return nil
}

// requireAction returns the action an endpoint runs, or a 403 naming the
// first of its permissions p lacks: managing an endpoint needs what running
// it does, so an endpoint never becomes a way to act beyond one's rights.
func requireAction(p auth.Principal, name string) (action, error) {
	a, ok := findAction(name)
	if !ok {
		return action{}, fmt.Errorf("endpoints: unknown action %q", name)
	}
	for _, x := range a.perms {
		if !p.Has(x) {
			e := apperr.Forbidden(x)
			e.Message = fmt.Sprintf("endpoints that run %s need the %q permission", name, x)
			return action{}, e
		}
	}
	return a, nil
}

func newToken() (raw, hash string) {
	raw = TokenPrefix + ids.Secret(32)
	return raw, sha256Hex(raw)
}

// Create creates an endpoint owned by p's user, running action with p's
// user's permissions at each post. p needs the action's permissions (403
// naming the first missing one). The token and the verification secret are
// returned once.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewEndpoint) (Endpoint, Secrets, error) {
	in.Name, in.Action, in.SuccessURL = strings.TrimSpace(in.Name), strings.TrimSpace(in.Action), strings.TrimSpace(in.SuccessURL)
	if err := validate.Struct(&in); err != nil {
		return Endpoint{}, Secrets{}, err
	}
	if _, ok := findAction(in.Action); !ok {
		return Endpoint{}, Secrets{}, apperr.InvalidField("action", "must be one of: "+actionNames())
	}
	a, err := requireAction(p, in.Action)
	if err != nil {
		return Endpoint{}, Secrets{}, err
	}
	var fields []apperr.FieldError
	m, mf := parseMapping(in.Mapping, a)
	fields = append(fields, mf...)
	v, secret, vf := checkVerification(in.Verification)
	fields = append(fields, vf...)
	if f := checkSuccessURL(in.SuccessURL); f != nil {
		fields = append(fields, *f)
	}
	if len(fields) > 0 {
		return Endpoint{}, Secrets{}, apperr.Invalid(fields...)
	}
	if in.RateLimit == 0 {
		in.RateLimit = s.opts.DefaultRateLimit
	}
	token, hash := newToken()
	now := s.now()
	e := Endpoint{
		ID: ids.New(ids.Inbound, now), AccountID: p.AccountID, OwnerID: p.UserID, Credential: p.Credential.String(),
		Name: in.Name, Action: in.Action, Mapping: m, Verification: v, SuccessURL: in.SuccessURL,
		RateLimit: in.RateLimit, TokenHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.st.create(ctx, e); err != nil {
		return Endpoint{}, Secrets{}, err
	}
	return e, Secrets{Token: token, Verification: secret}, nil
}

// visible reports whether p may see e at all: its owner, or anyone with
// manage:webhook.
func visible(p auth.Principal, e Endpoint) bool {
	return e.OwnerID == p.UserID || p.Has(perm.ManageWebhook)
}

// Endpoint returns one endpoint. Another user's endpoint is not found unless
// p holds manage:webhook, so ids cannot be probed; p also needs the
// permissions of the endpoint's action (403).
func (s *Service) Endpoint(ctx context.Context, p auth.Principal, id string) (Endpoint, error) {
	if !ids.HasPrefix(id, ids.Inbound) {
		return Endpoint{}, apperr.NotFound("inbound endpoint")
	}
	e, err := s.st.get(ctx, p.AccountID, id)
	if err != nil {
		return Endpoint{}, err
	}
	if !visible(p, e) {
		return Endpoint{}, apperr.NotFound("inbound endpoint")
	}
	if _, err := requireAction(p, e.Action); err != nil {
		return Endpoint{}, err
	}
	return e, nil
}

// Endpoints lists the endpoints p may manage, newest first: p's own (all
// with manage:webhook) whose action p may run. A page can hold fewer than
// limit while next is set.
func (s *Service) Endpoints(ctx context.Context, p auth.Principal, after string, limit int) ([]Endpoint, string, error) {
	es, next, err := s.st.list(ctx, p.AccountID, after, limit)
	if err != nil {
		return nil, "", err
	}
	out := es[:0]
	for _, e := range es {
		if _, err := requireAction(p, e.Action); err == nil && visible(p, e) {
			out = append(out, e)
		}
	}
	return out, next, nil
}

// Update applies a patch. The action cannot change. A new verification
// returns its secret once ("" otherwise).
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, in Patch) (Endpoint, string, error) {
	e, err := s.Endpoint(ctx, p, id)
	if err != nil {
		return Endpoint{}, "", err
	}
	if err := validate.Struct(&in); err != nil {
		return Endpoint{}, "", err
	}
	var fields []apperr.FieldError
	if in.Name != nil {
		e.Name = strings.TrimSpace(*in.Name)
		if e.Name == "" {
			fields = append(fields, apperr.FieldError{Field: "name", Message: "is required"})
		}
	}
	if in.Mapping != nil {
		a, _ := findAction(e.Action) // Endpoint checked it exists
		m, mf := parseMapping(*in.Mapping, a)
		fields = append(fields, mf...)
		e.Mapping = m
	}
	var secret string
	if in.Verification != nil {
		v, sec, vf := checkVerification(in.Verification)
		fields = append(fields, vf...)
		e.Verification, secret = v, sec
	}
	if in.SuccessURL != nil {
		e.SuccessURL = strings.TrimSpace(*in.SuccessURL)
		if f := checkSuccessURL(e.SuccessURL); f != nil {
			fields = append(fields, *f)
		}
	}
	if len(fields) > 0 {
		return Endpoint{}, "", apperr.Invalid(fields...)
	}
	if in.Paused != nil {
		e.Paused = *in.Paused
	}
	if in.RateLimit != nil {
		e.RateLimit = *in.RateLimit
	}
	e.UpdatedAt = s.now()
	if err := s.st.update(ctx, e); err != nil {
		return Endpoint{}, "", err
	}
	return e, secret, nil
}

// Delete deletes an endpoint and returns it as it was; its URL answers 404
// at once. Its request log goes with it.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) (Endpoint, error) {
	e, err := s.Endpoint(ctx, p, id)
	if err != nil {
		return Endpoint{}, err
	}
	return e, s.st.delete(ctx, e)
}

// RotateToken gives an endpoint a new token, returned once; the old URL
// answers 404 at once.
func (s *Service) RotateToken(ctx context.Context, p auth.Principal, id string) (Endpoint, string, error) {
	e, err := s.Endpoint(ctx, p, id)
	if err != nil {
		return Endpoint{}, "", err
	}
	token, hash := newToken()
	e.UpdatedAt = s.now()
	if err := s.st.rotate(ctx, e, hash); err != nil {
		return Endpoint{}, "", err
	}
	e.TokenHash = hash
	return e, token, nil
}

// Requests lists an endpoint's logged posts, newest first, to whoever may
// see the endpoint.
func (s *Service) Requests(ctx context.Context, p auth.Principal, id, after string, limit int) ([]Request, string, error) {
	e, err := s.Endpoint(ctx, p, id)
	if err != nil {
		return nil, "", err
	}
	return s.st.requests(ctx, e.AccountID, e.ID, after, limit)
}

// ---- receiving posts

// Submission is one POST /in/{token}, copied out of the HTTP request.
type Submission struct {
	Token           string
	ContentType     string
	ContentEncoding string
	Header          http.Header       // canonical names
	Query           map[string]string // the URL's query parameters
	Body            []byte            // raw, as sent
	SourceIP        string
	// Chain and Hop are the causal chain the sender forwarded
	// (Hookline-Chain, Hookline-Hop); HasChain is false without one.
	Chain    string
	Hop      int
	HasChain bool
}

// Reply is the answer to a post: a JSON body, or a 303 to Location.
type Reply struct {
	Status      int
	ContentType string
	Body        []byte
	Location    string
	Replayed    bool // the first answer to this sender key, sent again
}

// HeaderIdempotencyKey is the sender's id for a submission.
const HeaderIdempotencyKey = "Idempotency-Key"

// Receive handles one post: unknown token 404; body over MaxBody 413;
// compressed body 415; paused endpoint 403; over the rate limit 429 with
// Retry-After; failed verification 401; a sender key (Idempotency-Key, else
// webhook-id) seen before gets the first answer again; unparsable body 400
// or 415; unmappable input 422 naming the action's fields; then the action
// runs with the owner's permissions as they are now (403 when the owner is
// gone or lacks one) and its answer is relayed, or a form post to an
// endpoint with success_url is sent there with a 303. Every post to a known
// endpoint is logged, whatever its outcome.
func (s *Service) Receive(ctx context.Context, sub Submission) (Reply, error) {
	if !strings.HasPrefix(sub.Token, TokenPrefix) || len(sub.Token) > 128 {
		return Reply{}, apperr.NotFound("inbound endpoint")
	}
	hash := sha256Hex(sub.Token)
	e, err := s.st.byToken(ctx, hash)
	if err != nil {
		return Reply{}, err
	}
	if subtle.ConstantTimeCompare([]byte(e.TokenHash), []byte(hash)) != 1 {
		return Reply{}, apperr.NotFound("inbound endpoint") // a stale index entry after a rotation
	}
	start := s.opts.Now()
	now := s.now()
	rec := Request{
		ID: ids.New(ids.Request, now), EndpointID: e.ID, ReceivedAt: now, SourceIP: sub.SourceIP,
		ContentType: sub.ContentType, Headers: redact.Headers(sub.Header, e.Verification.Header), BodySize: len(sub.Body),
	}
	rec.Body, rec.BodyTruncated = truncate(sub.Body, s.opts.LogBodyMax)
	rep, err := s.receive(ctx, e, sub, &rec)
	s.logRequest(ctx, e, &rec, rep, err, start)
	return rep, err
}

func (s *Service) receive(ctx context.Context, e Endpoint, sub Submission, rec *Request) (Reply, error) {
	if len(sub.Body) > s.opts.MaxBody {
		return Reply{}, apperr.TooLarge(fmt.Sprintf("request body is larger than the %d KiB limit", s.opts.MaxBody>>10))
	}
	if enc := sub.ContentEncoding; enc != "" && !strings.EqualFold(enc, "identity") {
		return Reply{}, apperr.New(apperr.CodeUnsupportedMedia, "compressed request bodies are not accepted")
	}
	if e.Paused {
		return Reply{}, apperr.New(apperr.CodeForbidden,
			"this endpoint is paused; resume it with PATCH /v1/inbound-endpoints/"+e.ID+` {"paused": false}`)
	}
	if err := s.allow(ctx, e); err != nil {
		return Reply{}, err
	}
	if err := e.Verification.verify(sub, s.opts.Now(), s.opts.Tolerance); err != nil {
		return Reply{}, err
	}

	keyHash, err := senderKey(sub.Header)
	if err != nil {
		return Reply{}, err
	}
	if keyHash == "" {
		return s.process(ctx, e, sub, rec)
	}
	// The key is claimed only after verification, so nobody without the
	// sender's credentials can occupy a key a genuine post will use.
	fp := fingerprint(sub)
	idemKey := s.st.keys.InboundIdempotency(e.AccountID, e.ID, keyHash)
	old, claimed, err := s.idem.Claim(ctx, idemKey, fp)
	if err != nil {
		return Reply{}, err
	}
	if !claimed {
		switch {
		case old.Fingerprint != fp:
			return Reply{}, apperr.New(apperr.CodeIdempotencyReuse,
				"this Idempotency-Key or webhook-id was used with a different body; use a new one")
		case !old.Done:
			return Reply{}, apperr.New(apperr.CodeIdempotencyBusy,
				"a post with this Idempotency-Key or webhook-id is still in progress; retry later")
		}
		rec.Replayed = true
		return Reply{Status: old.Status, ContentType: old.ContentType, Body: old.Body, Location: old.Location, Replayed: true}, nil
	}
	// Only successes are kept: a refused post is not an answer worth
	// replaying, and its retry should be looked at afresh. A panic below
	// must not hold the key until the lease runs out.
	done := false
	defer func() {
		if !done {
			if err := s.idem.Release(context.WithoutCancel(ctx), idemKey); err != nil {
				s.opts.Log.Warn("endpoints: release sender key", "endpoint_id", e.ID, "err", err)
			}
		}
	}()
	rep, err := s.process(ctx, e, sub, rec)
	if err != nil {
		return Reply{}, err
	}
	if err := s.idem.Finish(ctx, idemKey, idempotency.Record{Status: rep.Status, ContentType: rep.ContentType, Body: rep.Body, Location: rep.Location}); err != nil {
		return Reply{}, err
	}
	done = true
	return rep, nil
}

// process parses, maps and runs a verified post.
func (s *Service) process(ctx context.Context, e Endpoint, sub Submission, rec *Request) (Reply, error) {
	payload, kind, err := parsePayload(sub.ContentType, sub.Body)
	if err != nil {
		return Reply{}, err
	}
	a, ok := findAction(e.Action)
	if !ok {
		return Reply{}, fmt.Errorf("endpoints: %s runs unknown action %q", e.ID, e.Action)
	}
	input, fields := e.Mapping.apply(payload, a)
	if len(fields) > 0 {
		return Reply{}, apperr.Invalid(fields...)
	}
	rec.Input = input
	p, err := s.owner(ctx, e, a)
	if err != nil {
		return Reply{}, err
	}
	o := inbound.Origin{Chain: sub.Chain, Hop: sub.Hop, HasChain: sub.HasChain}
	res, err := s.actions.Run(ctx, p, e.Action, input, o)
	if err != nil {
		return Reply{}, err
	}
	rec.ResourceID, rec.Echo = res.ResourceID, res.Echo
	if kind == kindForm && e.SuccessURL != "" && res.Status < 300 {
		return Reply{Status: http.StatusSeeOther, Location: e.SuccessURL}, nil
	}
	body := []byte(res.Body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	return Reply{Status: res.Status, ContentType: "application/json", Body: body}, nil
}

// owner is the endpoint owner's principal as it is now: an account that is
// no longer active or a user who is gone stops the endpoint, and so does a
// permission the user no longer holds.
func (s *Service) owner(ctx context.Context, e Endpoint, a action) (auth.Principal, error) {
	cred := auth.Credential{Kind: auth.KindEndpoint, ID: e.ID, Name: "inbound endpoint " + e.Name}
	p, err := s.accounts.Principal(ctx, e.AccountID, e.OwnerID, cred, nil)
	if apperr.IsCode(err, apperr.CodeUnauthorized) {
		return auth.Principal{}, apperr.New(apperr.CodeForbidden, "this endpoint's owner is no longer active in the account")
	}
	if err != nil {
		return auth.Principal{}, err
	}
	for _, x := range a.perms {
		if !p.Has(x) {
			fe := apperr.Forbidden(x)
			fe.Message = fmt.Sprintf("this endpoint's owner no longer holds the %q permission its action needs", x)
			return auth.Principal{}, fe
		}
	}
	return p, nil
}

// allow applies the endpoint's rate limit, shared by every API process.
func (s *Service) allow(ctx context.Context, e Endpoint) error {
	n := e.RateLimit
	if n <= 0 {
		n = s.opts.DefaultRateLimit
	}
	res, err := s.limiter.Allow(ctx, s.st.keys.RateLimit(e.AccountID, "inb:"+e.ID), redis_rate.PerMinute(n))
	if err != nil {
		return fmt.Errorf("endpoints: rate limit %s: %w", e.ID, err)
	}
	if res.Allowed == 0 {
		return apperr.RateLimited(fmt.Sprintf("this endpoint accepts at most %d posts a minute", n), res.RetryAfter)
	}
	return nil
}

// senderKey returns the SHA-256 (hex) of the sender's Idempotency-Key, else
// of its webhook-id, or "" when it sent neither.
func senderKey(h http.Header) (string, error) {
	name, key := HeaderIdempotencyKey, h.Get(HeaderIdempotencyKey)
	if key == "" {
		name, key = "webhook-id", h.Get(headerWebhookID)
	}
	if key == "" {
		return "", nil
	}
	if len(key) > 255 || !validate.Printable(key) {
		return "", apperr.InvalidField(name, "must be 1 to 255 printable ASCII characters")
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]), nil
}

// fingerprint identifies a post's content for its sender key.
func fingerprint(sub Submission) string {
	h := sha256.New()
	h.Write([]byte(sub.ContentType))
	h.Write([]byte{0})
	h.Write(sub.Body)
	return hex.EncodeToString(h.Sum(nil))
}

// Redacted is shown in the log in place of a secret header's value.
const Redacted = redact.Redacted

// truncate returns at most max bytes of body as text, cut on a rune boundary.
func truncate(body []byte, max int) (string, bool) {
	if len(body) <= max {
		return strings.ToValidUTF8(string(body), "\uFFFD"), false
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return strings.ToValidUTF8(string(body[:cut]), "\uFFFD"), true
}

// logRequest writes the post's outcome to the endpoint's request log.
// Failing to log does not fail the post: the action has already run.
func (s *Service) logRequest(ctx context.Context, e Endpoint, rec *Request, rep Reply, err error, start time.Time) {
	rec.DurationMS = s.opts.Now().Sub(start).Milliseconds()
	if err == nil {
		rec.Status = rep.Status
	} else if ae := apperr.As(err); ae != nil {
		rec.Status = httpapi.Status(ae.Code)
		rec.ErrorCode, rec.ErrorMessage = ae.Code, ae.Message
		rec.ErrorFields = ae.Fields
	} else {
		rec.Status = http.StatusInternalServerError
		rec.ErrorCode, rec.ErrorMessage = apperr.CodeInternal, "internal error"
	}
	if err := s.st.addRequest(context.WithoutCancel(ctx), e.AccountID, *rec, s.opts.LogMax, s.opts.LogRetention, s.opts.Now()); err != nil {
		s.opts.Log.Warn("endpoints: log request", "endpoint_id", e.ID, "err", err)
	}
}
