// Package outbound delivers events to subscribed endpoints: webhooks,
// fan-out, signing, retries and the delivery log. It imports the core, never
// the reverse; Service.Emit satisfies events.Emitter.
//
// Front door:
//
//	New(rdb, q, deps, opts) *Service
//	(*Service).Emit                    fan an event out to matching webhooks
//	(*Service).CreateWebhook / Webhook / Webhooks / UpdateWebhook / DeleteWebhook
//	(*Service).RotateSecret / SendTest / Deliveries / Delivery / Redeliver
//	(*Service).DeactivateWebhooksOfCredential  turn off what a revoked credential made
//	(*Service).RotateSecrets           reseal stored secrets under the current key
//	(*Service).Register                HTTP routes
//	(*Service).Jobs                    Asynq handler, its queue and the reconciler loop
//	(*Service).Go / Close              background sends, waited for at shutdown
//
// Files by job: service.go (Options, Deps, New, Go, Close), checks.go (input
// and its checks, read permissions), webhooks.go (create, read, delete),
// update.go (PATCH, field by field), lifecycle.go (removal and its hooks,
// revocation, secret rotation, test sends), sealing.go (secrets at rest),
// fanout.go (Emit), deliveries.go (the delivery log), tasks.go and send.go
// (one attempt), limits.go (per-webhook and per-account in-flight caps,
// rate limits), reconcile.go, and the Redis layer in store.go,
// store_deliveries.go and store_scripts.go.
package outbound

import (
	"time"

	"github.com/hookline/hookline/app/redact"
)

// Sources of webhooks: the API, or an integration adapting its protocol.
const (
	SourceAPI    = "api"
	SourceZapier = "zapier"
	SourceIFTTT  = "ifttt"
)

// Auth is how Hookline authenticates to the receiver.
type Auth struct {
	Type     string // none, basic or bearer
	Username string // basic
	Secret   string // the basic password or the bearer token; never shown
}

// Webhook is one subscription of an account to some event types.
type Webhook struct {
	ID         string
	AccountID  string
	OwnerID    string // the user whose permissions it delivers under
	Credential string // the credential that created it ("key:key_…"; auth.Credential.String)
	Source     string
	Name       string
	URL        string
	// OriginURL is the URL the webhook was created with. A reverse
	// unsubscribe goes there and nowhere else (SendUnsubscribe); empty for
	// webhooks stored before it was recorded.
	OriginURL     string
	Method        string // POST or GET
	Events        []string
	Auth          Auth
	Headers       map[string]string
	RetrySchedule []time.Duration
	Timeout       time.Duration
	RateLimit     float64 // deliveries per second; 0 is unlimited
	// MaxInFlight caps the webhook's requests in flight across every
	// worker process (DefaultMaxInFlight unless set).
	MaxInFlight int
	Active      bool
	// DisabledReason says why Hookline turned the webhook off itself.
	DisabledReason      string
	DisabledAt          time.Time
	ConsecutiveFailures int
	Secret              string
	PrevSecret          string
	PrevSecretUntil     time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// DefaultMaxInFlight is a webhook's max_in_flight unless it sets one;
// MaxMaxInFlight the most it may set.
const (
	DefaultMaxInFlight = 10
	MaxMaxInFlight     = 100
)

// Secrets returns the secrets to sign with at t: the current one, and the
// previous one while its rotation window lasts.
func (w Webhook) Secrets(t time.Time) []string {
	if w.PrevSecret != "" && t.Before(w.PrevSecretUntil) {
		return []string{w.Secret, w.PrevSecret}
	}
	return []string{w.Secret}
}

// Shown is the webhook as it may be shown back to a client or on a page: a
// copy with sensitive header values replaced by Redacted (redact.HeaderMap;
// never nil) and every secret cleared — the signing secrets and the auth
// password or token. PrevSecretUntil stays while a previous secret exists,
// so the rotation window can still be shown. CreateWebhook's and
// RotateSecret's callers read the new secret from the record itself.
func (w Webhook) Shown() Webhook {
	w.Headers = redact.HeaderMap(w.Headers)
	w.Auth.Secret = ""
	if w.PrevSecret == "" {
		w.PrevSecretUntil = time.Time{}
	}
	w.Secret, w.PrevSecret = "", ""
	return w
}

// Subscribes reports whether the webhook takes events of type typ.
func (w Webhook) Subscribes(typ string) bool {
	for _, e := range w.Events {
		if e == typ {
			return true
		}
	}
	return false
}

// Delivery statuses.
const (
	StatusPending    = "pending"
	StatusDelivered  = "delivered"
	StatusFailed     = "failed"
	StatusSuppressed = "suppressed"
)

// Delivery is one event's delivery to one webhook.
type Delivery struct {
	ID             string
	AccountID      string
	WebhookID      string
	EventID        string
	EventType      string
	URL            string
	Status         string
	Attempts       int
	LastStatusCode int
	LastError      string
	CreatedAt      time.Time
	NextAttemptAt  time.Time // zero when no attempt is scheduled
	Gen            int       // bumped on every (re)schedule; a task of another gen is stale
	Test           bool      // a webhook.test delivery: sent even to an inactive webhook
}

// Attempt is one HTTP request of a delivery, as the log shows it.
type Attempt struct {
	Number     int               `json:"number"`
	StartedAt  time.Time         `json:"started_at"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Request    map[string]string `json:"request_headers"`
	StatusCode int               `json:"status_code"`
	Response   map[string]string `json:"response_headers"`
	Body       string            `json:"response_body"`
	Truncated  bool              `json:"response_body_truncated"`
	DurationMS int64             `json:"duration_ms"`
	ErrorClass string            `json:"error_class"`
	Error      string            `json:"error"`
	Trigger    string            `json:"trigger"` // schedule, redeliver or test
}

// Redacted is shown in place of a sensitive value.
const Redacted = redact.Redacted
