package endpoints

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-redis/redis_rate/v10"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/inbound"
)

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

// Receive handles one post: unknown token 404; body over MaxBody 413;
// compressed body 415; paused endpoint 403; over the rate limit 429 with
// Retry-After; failed verification 401; a sender key seen before (see
// once) gets the first answer again; unparsable body 400 or 415;
// unmappable input 422 naming the action's fields; then the action runs
// with the owner's permissions as they are now (403 when the owner is gone
// or lacks one). A post the action accepted is answered 202 {"status":
// "accepted", "id": <the request's log id>} and never with a record's
// fields, and so is one whose customer does not exist or whose email
// another customer has (the log says so), so no post tells whether a
// record exists;
// a form post to an endpoint with success_url is sent there with a 303.
// Posts refused before verification or by the rate limit are only counted
// on the endpoint (Endpoint.Refused); every other post is logged.
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
	if reason, err := s.admit(ctx, e, sub); err != nil {
		if reason != "" {
			if cerr := s.st.countRefused(context.WithoutCancel(ctx), e, reason); cerr != nil {
				s.opts.Log.Warn("endpoints: count refused post", "endpoint_id", e.ID, "err", cerr)
			}
		}
		return Reply{}, err
	}
	now := s.now()
	rec := Request{
		ID: ids.New(ids.Request, now), EndpointID: e.ID, ReceivedAt: now, SourceIP: sub.SourceIP,
		ContentType: sub.ContentType, Headers: logHeaders(sub.Header, e.Verification.Header), BodySize: len(sub.Body),
	}
	rec.Body, rec.BodyTruncated = truncate(sub.Body, s.opts.LogBodyMax)
	rep, err := s.once(ctx, e, sub, &rec)
	s.logRequest(ctx, e, &rec, rep, err, start)
	return rep, err
}

// admit runs the checks that come before anything is parsed, in the order
// Receive documents. A refusal names its reason (a refused* constant), or
// "" for an error of Hookline's own.
func (s *Service) admit(ctx context.Context, e Endpoint, sub Submission) (string, error) {
	if len(sub.Body) > s.opts.MaxBody {
		return refusedSize, apperr.TooLarge(fmt.Sprintf("request body is larger than the %d KiB limit", s.opts.MaxBody>>10))
	}
	if enc := sub.ContentEncoding; enc != "" && !strings.EqualFold(enc, "identity") {
		return refusedSize, apperr.New(apperr.CodeUnsupportedMedia, "compressed request bodies are not accepted")
	}
	if e.Paused {
		return refusedPaused, apperr.New(apperr.CodeForbidden,
			"this endpoint is paused; resume it with PATCH /v1/inbound-endpoints/"+e.ID+` {"paused": false}`)
	}
	if err := s.allow(ctx, e); err != nil {
		if apperr.IsCode(err, apperr.CodeRateLimited) {
			return refusedRate, err
		}
		return "", err
	}
	if err := e.Verification.verify(sub, s.opts.Now(), s.opts.Tolerance); err != nil {
		if apperr.IsCode(err, apperr.CodeUnauthorized) {
			return refusedAuth, err
		}
		return "", err
	}
	return "", nil
}

// accepted is an inbound endpoint's answer to a post its action accepted.
type accepted struct {
	Status string `json:"status"` // always "accepted"
	ID     string `json:"id"`     // the request's id in the endpoint's log
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
	o := inbound.Origin{Chain: sub.Chain, Hop: sub.Hop, HasChain: sub.HasChain,
		Unverified: e.Verification.Type == VerifyNone || e.Verification.Type == ""}
	res, err := s.actions.Run(ctx, p, e.Action, input, o)
	// Whether a record exists is the owner's to know, not the sender's: a
	// customer that is not there, or an email another customer has, is
	// answered "accepted" like any post; the owner reads it in the log.
	switch {
	case apperr.IsCode(err, apperr.CodeNotFound):
		ae := apperr.As(err)
		rec.ErrorCode, rec.ErrorMessage = ae.Code, ae.Message+" (the sender was answered \"accepted\")"
	case err != nil:
		return Reply{}, err
	case res.Taken:
		rec.ErrorCode = apperr.CodeConflict
		rec.ErrorMessage = "another customer already has this email: nothing changed (the sender was answered \"accepted\")"
	}
	rec.ResourceID, rec.Echo = res.ResourceID(), res.Echo
	if kind == kindForm && e.SuccessURL != "" {
		return Reply{Status: http.StatusSeeOther, Location: e.SuccessURL}, nil
	}
	body, err := json.Marshal(accepted{Status: "accepted", ID: rec.ID})
	if err != nil {
		return Reply{}, fmt.Errorf("endpoints: encode answer: %w", err)
	}
	return Reply{Status: http.StatusAccepted, ContentType: "application/json", Body: body}, nil
}

// owner is the endpoint owner's principal as it is now: an account that is
// no longer active or a user who is gone stops the endpoint, and so does a
// permission the user no longer holds.
func (s *Service) owner(ctx context.Context, e Endpoint, a action) (auth.Principal, error) {
	p, err := s.accounts.Principal(ctx, e.AccountID, e.OwnerID, e.ownCredential(), nil)
	if apperr.IsCode(err, apperr.CodeUnauthorized) {
		return auth.Principal{}, apperr.New(apperr.CodeForbidden, "this endpoint's owner is no longer active in the account")
	}
	if err != nil {
		return auth.Principal{}, err
	}
	if x, ok := a.lacking(p); ok {
		e := apperr.Forbidden(x)
		e.Message = fmt.Sprintf("this endpoint's owner no longer holds the %q permission its action needs", x)
		return auth.Principal{}, e
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
