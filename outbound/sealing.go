package outbound

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hookline/hookline/app/redact"
	"github.com/hookline/hookline/app/secrets"
	"github.com/hookline/hookline/app/store"
)

// The stored fields of a webhook that hold secrets, sealed at rest
// (Options.Secrets). Header values are sealed one by one, each under
// headerField(name); the header names stay readable.
const (
	fieldSecret     = "secret"
	fieldPrevSecret = "prev_secret"
	fieldAuthSecret = "auth_secret"
)

func headerField(name string) string { return "header:" + strings.ToLower(name) }

// sealer seals and opens a webhook's secret fields, each bound to its
// record and field (the context is the webhook's key, "#" and the field),
// so a sealed value copied into another webhook or field does not open.
// Records read from Redis carry the sealed values; only sending (signing,
// auth, headers) and showing (non-sensitive header values) open them.
type sealer struct {
	kr   *secrets.Keyring
	keys store.Keys
}

func (s sealer) context(acct, id, field string) string { return s.keys.Webhook(acct, id) + "#" + field }

func (s sealer) seal(acct, id, field, plain string) (string, error) {
	v, err := s.kr.Seal(plain, s.context(acct, id, field))
	if err != nil {
		return "", fmt.Errorf("outbound: seal %s of %s: %w", field, id, err)
	}
	return v, nil
}

// sealHeaders is the stored form of custom headers: JSON of name → sealed value.
func (s sealer) sealHeaders(acct, id string, h map[string]string) (string, error) {
	out := make(map[string]string, len(h))
	for k, v := range h {
		sv, err := s.seal(acct, id, headerField(k), v)
		if err != nil {
			return "", err
		}
		out[k] = sv
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("outbound: encode headers of %s: %w", id, err)
	}
	return string(b), nil
}

// open returns w with every secret field opened, for sending. A value no
// configured key opens is secrets.ErrOpen (a key removed too early).
// Plain values (written before sealing was on) come back as they are.
func (s sealer) open(w Webhook) (Webhook, error) {
	var err error
	open := func(field, v string) string {
		p, e := s.kr.Open(v, s.context(w.AccountID, w.ID, field))
		if e != nil && err == nil {
			err = fmt.Errorf("outbound: open %s of %s: %w", field, w.ID, e)
		}
		return p
	}
	w.Secret = open(fieldSecret, w.Secret)
	w.PrevSecret = open(fieldPrevSecret, w.PrevSecret)
	w.Auth.Secret = open(fieldAuthSecret, w.Auth.Secret)
	if len(w.Headers) > 0 {
		h := make(map[string]string, len(w.Headers))
		for k, v := range w.Headers {
			h[k] = open(headerField(k), v)
		}
		w.Headers = h
	}
	return w, err
}

// forShow returns w as the service hands it to surfaces: header values
// opened (Shown redacts the sensitive ones by name), every secret cleared
// as Shown would; a header value that cannot be opened shows as Redacted.
func (s sealer) forShow(w Webhook) Webhook {
	w.Secret, w.PrevSecret, w.Auth.Secret = "", "", ""
	if len(w.Headers) > 0 {
		h := make(map[string]string, len(w.Headers))
		for k, v := range w.Headers {
			p, err := s.kr.Open(v, s.context(w.AccountID, w.ID, headerField(k)))
			if err != nil {
				p = redact.Redacted
			}
			h[k] = p
		}
		w.Headers = h
	}
	return w
}

// RotateSecrets seals again, under the current key, every stored webhook
// secret that is stale (plain while sealing is on, or sealed with an older
// key) in every account, and returns how many values it changed. `hookline
// admin rotate-secrets` calls it after a new key is put first in
// HOOKLINE_SECRET_KEYS; the old key can be dropped once it returns without
// error. A value changed concurrently (a rotate-secret, a PATCH) is left to
// that writer, which seals under the current key anyway. Without sealing
// configured it changes nothing.
func (s *Service) RotateSecrets(ctx context.Context) (int, error) {
	if !s.opts.Secrets.Enabled() {
		return 0, nil
	}
	accts, err := s.st.accounts(ctx)
	if err != nil {
		return 0, fmt.Errorf("outbound: rotate secrets: %w", err)
	}
	n := 0
	for _, acct := range accts {
		after := ""
		for {
			ws, next, err := s.st.list(ctx, acct, after, 200)
			if err != nil {
				return n, err
			}
			for _, w := range ws {
				c, err := s.resealWebhook(ctx, w)
				n += c
				if err != nil {
					return n, err
				}
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	return n, nil
}

// resealWebhook reseals w's stale values with compare-and-set on each
// stored field, and returns how many values changed.
func (s *Service) resealWebhook(ctx context.Context, w Webhook) (int, error) {
	kr := s.opts.Secrets
	var cas []any   // field, expected stored value, new value
	var worth []int // how many values each triple reseals
	for _, f := range []struct{ name, v string }{
		{fieldSecret, w.Secret}, {fieldPrevSecret, w.PrevSecret}, {fieldAuthSecret, w.Auth.Secret},
	} {
		if !kr.Stale(f.v) {
			continue
		}
		nv, err := kr.Reseal(f.v, s.seal.context(w.AccountID, w.ID, f.name))
		if err != nil {
			return 0, fmt.Errorf("outbound: reseal %s of %s: %w", f.name, w.ID, err)
		}
		cas, worth = append(cas, f.name, f.v, nv), append(worth, 1)
	}
	stale := 0
	h := make(map[string]string, len(w.Headers))
	for k, v := range w.Headers {
		h[k] = v
		if kr.Stale(v) {
			nv, err := kr.Reseal(v, s.seal.context(w.AccountID, w.ID, headerField(k)))
			if err != nil {
				return 0, fmt.Errorf("outbound: reseal header %s of %s: %w", k, w.ID, err)
			}
			h[k] = nv
			stale++
		}
	}
	if stale > 0 {
		// Stored headers were written by json.Marshal of the same map, so
		// marshalling what was read gives the stored string back.
		was, _ := json.Marshal(w.Headers)
		now, _ := json.Marshal(h)
		cas, worth = append(cas, "headers", string(was), string(now)), append(worth, stale)
	}
	if len(cas) == 0 {
		return 0, nil
	}
	set, err := s.st.compareAndSet(ctx, w.AccountID, w.ID, cas...)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, ok := range set {
		if ok && i < len(worth) {
			n += worth[i]
		}
	}
	return n, nil
}
