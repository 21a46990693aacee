// Package endpoints turns plain HTTP posts from forms, booking apps and
// other senders into inbound actions. Each endpoint has an unguessable URL
// /in/{token}; a post to it is checked (size, pause, rate limit,
// verification), parsed (JSON, urlencoded or multipart fields), mapped onto
// the action's fields, run with the owner's permissions as they are at that
// moment, deduplicated by the sender's Idempotency-Key or webhook-id, and
// logged; the sender hears only "accepted". Posts refused before
// verification or by the rate limit are counted, not logged.
//
// Front door:
//
//	New(rdb, keys, accounts, actions, opts) *Service
//	(*Service).Create / Endpoint / Endpoints / Update / Delete / RotateToken / Requests
//	(*Service).Receive                 handle one POST /in/{token}
//	(*Service).PauseEndpointsOfCredential  on revoking the credential that created them
//	(*Service).RotateSecrets           re-seal verification secrets under the current key
//	(*Service).Register                management routes under /v1
//	(*Service).RegisterPublic          POST /in/:token on the app root
package endpoints

import (
	"strings"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/inbound"
)

// TokenPrefix starts every endpoint token, so a leaked one is recognisable.
const TokenPrefix = "hkin_"

// Verification types.
const (
	VerifyNone             = "none"
	VerifyToken            = "token"
	VerifyBasic            = "basic"
	VerifyHMAC             = "hmac"
	VerifyStandardWebhooks = "standard_webhooks"
)

// Verification is how a post proves it comes from the expected sender.
type Verification struct {
	Type     string // one of the Verify* constants
	Header   string // token: the header carrying the secret; hmac: the signature header
	Query    string // token: the query parameter carrying the secret (instead of Header)
	Username string // basic
	Encoding string // hmac: hex or base64
	Prefix   string // hmac: text before the signature, such as "sha256="
	// Secret is the HMAC key for hmac (the secret's bytes) and
	// standard_webhooks (a whsec_ secret), and the SHA-256 (hex) of the
	// secret for token and basic, which are only compared.
	Secret string
}

// VerificationView is what may be shown of a verification: its settings,
// never its secret nor the secret's hash. The JSON names are the API's.
type VerificationView struct {
	Type      string `json:"type"`
	Header    string `json:"header,omitempty"`
	Query     string `json:"query,omitempty"`
	Username  string `json:"username,omitempty"`
	Algorithm string `json:"algorithm,omitempty"` // hmac: always sha256
	Encoding  string `json:"encoding,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
}

// View returns what may be shown of v, to anyone who may see its endpoint.
func (v Verification) View() VerificationView {
	out := VerificationView{Type: v.Type, Header: v.Header, Query: v.Query, Username: v.Username,
		Encoding: v.Encoding, Prefix: v.Prefix}
	if v.Type == VerifyHMAC {
		out.Algorithm = "sha256"
	}
	return out
}

// Endpoint is one inbound endpoint of an account.
type Endpoint struct {
	ID           string
	AccountID    string
	OwnerID      string // the user whose permissions the action runs with
	Credential   string // the credential that created it (auth.Credential.String)
	Name         string
	Action       string
	Mapping      Mapping
	Verification Verification
	SuccessURL   string // "" for none
	Paused       bool
	RateLimit    int    // posts per minute
	TokenHash    string // SHA-256 (hex) of the token; the token itself is never kept
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Refused counts the posts refused before verification or by the rate
	// limit, which are not logged (anyone who knows the URL can send them).
	Refused Refused
}

// Refused counts an endpoint's refused posts by reason, since it was
// created.
type Refused struct {
	Size   int64 `json:"size"`   // over MaxBody (413) or compressed (415)
	Paused int64 `json:"paused"` // while the endpoint was paused (403)
	Rate   int64 `json:"rate"`   // over its rate limit (429)
	Auth   int64 `json:"auth"`   // failed verification (401)
}

// Reasons a post is refused before it is logged: the suffixes of the
// endpoint's refused_* counter fields.
const (
	refusedSize   = "size"
	refusedPaused = "paused"
	refusedRate   = "rate"
	refusedAuth   = "auth"
)

// CreatedBy is the credential that created the endpoint, the zero
// Credential when unknown (created before this was recorded).
func (e Endpoint) CreatedBy() auth.Credential { return auth.ParseCredential(e.Credential) }

// ownCredential is the endpoint as a credential: its posts act as its owner
// under it (Credential, by contrast, is what created the endpoint).
func (e Endpoint) ownCredential() auth.Credential {
	return auth.Credential{Kind: auth.KindEndpoint, ID: e.ID, Name: "inbound endpoint " + e.Name}
}

// Request is one logged post to an endpoint.
type Request struct {
	ID            string              `json:"id"`
	EndpointID    string              `json:"endpoint_id"`
	ReceivedAt    time.Time           `json:"received_at"`
	SourceIP      string              `json:"source_ip"`
	ContentType   string              `json:"content_type"`
	Headers       map[string]string   `json:"headers"`
	Body          string              `json:"body"`
	BodySize      int                 `json:"body_size"`
	BodyTruncated bool                `json:"body_truncated"`
	Input         map[string]any      `json:"input"`
	Status        int                 `json:"status"`
	ErrorCode     string              `json:"error_code"`
	ErrorMessage  string              `json:"error_message"`
	ErrorFields   []apperr.FieldError `json:"error_fields"`
	ResourceID    string              `json:"resource_id"`
	Replayed      bool                `json:"replayed"`
	Echo          bool                `json:"echo"`
	DurationMS    int64               `json:"duration_ms"`
}

// field describes one input field of an action, for checking mappings.
type field struct {
	name   string
	object bool // a JSON object (publish_event's data); others are text
}

// action is what an endpoint needs to know about the action it runs: the
// permissions to manage and run it, and its input fields.
type action struct {
	perms  []string
	fields []field
}

// findAction reads an action from inbound's catalog (GET /v1/actions).
func findAction(name string) (action, bool) {
	for _, a := range inbound.Actions {
		if a.Name != name {
			continue
		}
		out := action{perms: []string{a.Permission}}
		for _, f := range a.Fields {
			out.fields = append(out.fields, field{name: f.Name, object: f.Type == "object"})
		}
		return out, true
	}
	return action{}, false
}

// actionNames lists the catalog's actions, for messages.
func actionNames() string {
	names := make([]string, len(inbound.Actions))
	for i, a := range inbound.Actions {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

// lacking returns the first of the action's permissions p does not hold.
func (a action) lacking(p auth.Principal) (string, bool) {
	for _, x := range a.perms {
		if !p.Has(x) {
			return x, true
		}
	}
	return "", false
}

func (a action) field(name string) (field, bool) {
	for _, f := range a.fields {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}
