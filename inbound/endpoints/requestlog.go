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
