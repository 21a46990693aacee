package outbound

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/app/redact"
	"github.com/hookline/hookline/outbound/safehttp"
	"github.com/hookline/hookline/outbound/signing"
)

// maxLoggedBody is how much of a response body the log keeps.
const maxLoggedBody = 64 << 10

// send makes one HTTP request and describes it. retryAfter is the wait a 429
// or 503 asked for (at most 1 h); gone reports a 410.
//
// The start time, the signature timestamp and the duration all come from
// the one injected clock (Options.Now): a duration taken with the real
// clock against a start from a fake one would be nonsense in tests. The
// default, time.Now, carries a monotonic reading, so in production the
// duration is still immune to wall-clock steps.
func (s *Service) send(ctx context.Context, w Webhook, d Delivery, env []byte, chain string, hop int) (att Attempt, retryAfter time.Duration, gone bool) {
	start := s.opts.Now()
	att = Attempt{StartedAt: start.UTC().Truncate(time.Millisecond), Method: w.Method, URL: w.URL}
	// att.URL is the URL this attempt goes to, kept in the log and on the
	// delivery (store.record), so a re-pointed webhook shows.
	signer, err := signing.NewSigner(w.Secrets(start)...)
	if err != nil {
		att.ErrorClass, att.Error = ClassInternal, "the webhook's secret is unreadable; rotate it"
		return att, 0, false
	}
	timeout := min(w.Timeout, MaxTimeout)
	target := w.URL
	var body io.Reader
	if w.Method == http.MethodGet {
		// GET carries the envelope JSON in ?payload=, signed exactly as a POST body.
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + "payload=" + url.QueryEscape(string(env)) + "&event_id=" + url.QueryEscape(d.EventID) + "&event_type=" + url.QueryEscape(d.EventType)
	} else {
		body = bytes.NewReader(env)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, w.Method, target, body)
	if err != nil {
		s.opts.Log.Warn("outbound: cannot build request", "webhook_id", w.ID, "err", err)
		att.ErrorClass, att.Error = ClassInternal, "Hookline could not build the request: the webhook's URL is not valid at send time"
		return att, 0, false
	}
	ts := start.Unix()
	h := req.Header
	if w.Method != http.MethodGet {
		h.Set("Content-Type", "application/json")
	}
	h.Set("User-Agent", "Hookline/"+s.opts.Version)
	h.Set("webhook-id", d.EventID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", signer.StandardSignature(d.EventID, ts, env))
	h.Set("Signature", signer.BodySignature(env))
	h.Set("Idempotency-Key", d.EventID)
	h.Set("Hookline-Event-Id", d.EventID)
	h.Set("Hookline-Delivery-Id", d.ID)
	// The chain comes from whoever wrote the event: one Go's client would
	// refuse (a control character) is left out rather than fail the delivery.
	if chain != "" && validHeaderValue(chain) {
		h.Set("Hookline-Chain", chain)
	}
	h.Set("Hookline-Hop", strconv.Itoa(hop))
	for k, v := range w.Headers {
		h.Set(k, v)
	}
	switch w.Auth.Type {
	case "basic":
		req.SetBasicAuth(w.Auth.Username, w.Auth.Secret)
	case "bearer":
		h.Set("Authorization", "Bearer "+w.Auth.Secret)
	}
	att.Request = redact.Headers(h)
	// A header Go's client would refuse (stored before the rule was
	// tightened) is Hookline's own failure, not the receiver's.
	for k, vs := range h {
		for _, v := range vs {
			if !validHeaderValue(v) {
				att.ErrorClass, att.Error = ClassInternal, "Hookline could not build the request: header "+k+" has a value that cannot be sent; edit the webhook's headers"
				return att, 0, false
			}
		}
	}

	res, err := s.client.Do(req)
	att.DurationMS = s.opts.Now().Sub(start).Milliseconds()
	if err != nil {
		att.ErrorClass = safehttp.Classify(err)
		att.Error = errorMessage(att.ErrorClass, err, timeout)
		s.opts.Log.Info("outbound: attempt failed", "webhook_id", w.ID, "delivery_id", d.ID, "error_class", att.ErrorClass, "detail", safehttp.Detail(err))
		return att, 0, false
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxLoggedBody+1))
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	att.DurationMS = s.opts.Now().Sub(start).Milliseconds()
	if len(b) > maxLoggedBody {
		b, att.Truncated = b[:maxLoggedBody], true
	}
	att.Body = string(b)
	att.StatusCode = res.StatusCode
	att.Response = redact.Headers(res.Header)
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
	case res.StatusCode == http.StatusGone:
		att.ErrorClass = "gone"
		att.Error = "the receiver answered 410 Gone: the subscription was deleted"
		gone = true
	case res.StatusCode >= 300 && res.StatusCode < 400:
		att.ErrorClass = "redirect"
		att.Error = "redirects are not followed (Location: " + res.Header.Get("Location") + ")"
	default:
		att.ErrorClass = "http_status"
		att.Error = "HTTP " + strconv.Itoa(res.StatusCode)
		if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
			retryAfter = parseRetryAfter(res.Header.Get("Retry-After"), start)
			if retryAfter > 0 {
				att.Error += ", Retry-After " + retryAfter.String()
			}
		}
	}
	return att, retryAfter, gone
}

// errorMessage is what the delivery log says of a failed send: never an
// address, a port or a dial string (safehttp.Describe); the server log
// has the detail.
func errorMessage(class string, err error, timeout time.Duration) string {
	if class == "timeout" {
		return "no response within the webhook's timeout of " + timeout.String()
	}
	return safehttp.Describe(err)
}

// parseRetryAfter reads seconds or an HTTP date, capped at one hour.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	if d > time.Hour {
		return time.Hour
	}
	return d
}
