package endpoints

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/idempotency"
	"github.com/hookline/hookline/app/validate"
)

// HeaderIdempotencyKey is the sender's id for a submission.
const HeaderIdempotencyKey = "Idempotency-Key"

// once processes a verified post once per sender key (Idempotency-Key, else
// webhook-id; under standard_webhooks always and only the signed
// webhook-id): a post without one is processed; a key seen before with the
// same content gets the first answer again, with another content a 422, and
// while the first post still runs a 409.
func (s *Service) once(ctx context.Context, e Endpoint, sub Submission, rec *Request) (Reply, error) {
	keyHash, err := senderKey(sub.Header, e.Verification.Type)
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

// senderKey returns the SHA-256 (hex) of the sender's Idempotency-Key, else
// of its webhook-id, or "" when it sent neither. Under standard_webhooks
// it is always the webhook-id, which the signature covers: an unsigned
// Idempotency-Key would let anyone replay a captured post under new keys.
func senderKey(h http.Header, verification string) (string, error) {
	name, key := HeaderIdempotencyKey, h.Get(HeaderIdempotencyKey)
	if key == "" || verification == VerifyStandardWebhooks {
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
