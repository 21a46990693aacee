package endpoints

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/redact"
)

// Requests lists an endpoint's logged posts, newest first, to whoever may
// see the endpoint.
func (s *Service) Requests(ctx context.Context, p auth.Principal, id, after string, limit int) ([]Request, string, error) {
	e, err := s.Endpoint(ctx, p, id)
	if err != nil {
		return nil, "", err
	}
	return s.st.requests(ctx, e.AccountID, e.ID, after, limit)
}

// Redacted is shown in the log in place of a secret header's value.
const Redacted = redact.Redacted

// shownHeaders are the headers whose values the request log shows (by
// canonical name): what says what was sent and by whom, never what could
// authenticate. Every other header is listed with its value Redacted, so
// a credential in a header of any name (X-Form-Credential) stays hidden.
var shownHeaders = map[string]bool{
	"Accept": true, "Accept-Language": true, "Content-Length": true, "Content-Type": true,
	"Origin": true, "Referer": true, "User-Agent": true, "X-Request-Id": true, "X-Forwarded-For": true,
	"Webhook-Id": true, "Webhook-Timestamp": true, "Idempotency-Key": true,
	"Hookline-Chain": true, "Hookline-Hop": true,
}

// urlHeaders carry URLs whose query values may hold tokens.
var urlHeaders = map[string]bool{"Origin": true, "Referer": true}

// maxHeaderValue bounds each value the log keeps.
const maxHeaderValue = 512

// logHeaders flattens a post's headers for its log record: allowlisted
// values (shownHeaders; Origin and Referer with their query values
// redacted), at most maxHeaderValue bytes each, and every other header,
// and the verification's own header, as Redacted.
func logHeaders(h http.Header, verification string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		name := http.CanonicalHeaderKey(k)
		val := strings.Join(v, ", ")
		switch {
		case !shownHeaders[name] || strings.EqualFold(name, verification):
			val = Redacted
		case urlHeaders[name]:
			val = redact.URL(val)
		}
		if len(val) > maxHeaderValue {
			val, _ = truncate([]byte(val), maxHeaderValue)
		}
		out[name] = val
	}
	return out
}

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
	ttl := s.opts.LogRetention
	if rec.Status >= 400 || rec.ErrorCode != "" {
		ttl = s.opts.LogFailureRetention
	}
	if err := s.st.addRequest(context.WithoutCancel(ctx), e.AccountID, *rec, ttl, s.opts.LogMax, s.opts.LogRetention, s.opts.Now()); err != nil {
		s.opts.Log.Warn("endpoints: log request", "endpoint_id", e.ID, "err", err)
	}
}
