package store

// Keys builds every Redis key Hookline writes. No other file concatenates key
// strings. Each per-account key carries the hash tag {acc_…}, so multi-key
// transactions and Lua scripts over one account stay in one Cluster slot.
// Asynq's own keys (asynq:…) are not built here.
type Keys struct{ prefix string }

// NewKeys returns a key builder; prefix separates deployments sharing a Redis.
// An empty prefix means "hl".
func NewKeys(prefix string) Keys {
	if prefix == "" {
		prefix = "hl"
	}
	return Keys{prefix: prefix}
}

func (k Keys) account(acct string) string { return k.prefix + ":{" + acct + "}:" }

// ---- global keys (not per account: looked up before the account is known)

// APIKeyIndex maps a key's SHA-256 (hex) to "acc_id key_id usr_id". STRING.
func (k Keys) APIKeyIndex(hash string) string { return k.prefix + ":apikey:" + hash }

// UserEmail maps a lower-cased login email to "acc_id usr_id". STRING.
func (k Keys) UserEmail(email string) string { return k.prefix + ":useremail:" + email }

// Accounts lists every account id. SET.
func (k Keys) Accounts() string { return k.prefix + ":accounts" }

// ReadyProbe is the short-lived key /readyz writes to learn that Redis
// takes writes, not only PINGs.
func (k Keys) ReadyProbe() string { return k.prefix + ":readyz" }

// ---- accounts, users, API keys

// Account is the account record (name, created_at, status). HASH.
func (k Keys) Account(acct string) string { return k.account(acct) + "account" }

// User is one user (email, name, password_hash, permissions, created_at). HASH.
func (k Keys) User(acct, id string) string { return k.account(acct) + "usr:" + id }

// Users lists the account's user ids. ZSET, score 0, ordered by id.
func (k Keys) Users(acct string) string { return k.account(acct) + "usrs" }

// APIKey is one API key (name, hash, user_id, permissions, created_at,
// last_used_at, revoked_at). HASH.
func (k Keys) APIKey(acct, id string) string { return k.account(acct) + "key:" + id }

// APIKeys lists the account's key ids. ZSET, score 0, ordered by id.
func (k Keys) APIKeys(acct string) string { return k.account(acct) + "keys" }

// ---- event catalog

// EventTypes holds the account's own event types: name → JSON. HASH.
func (k Keys) EventTypes(acct string) string { return k.account(acct) + "evtypes" }

// EventTypeNames indexes the account's own event type names for paging.
// ZSET, score 0, members names (lexical order).
func (k Keys) EventTypeNames(acct string) string { return k.account(acct) + "evtypes:names" }

// EventTypeSampleBytes counts the bytes of all the account's own types'
// samples, for the quota. STRING (integer).
func (k Keys) EventTypeSampleBytes(acct string) string { return k.account(acct) + "evtypes:bytes" }

// ---- event log

// Event is one event: its envelope JSON, its cause (chain, hop,
// credential, resource), who it was fanned out to and how many of those
// deliveries are still open (app/events: recordFields, ReceiversField,
// OpenField, TrimmedField), expiring with the log's age limit. HASH.
func (k Keys) Event(acct, id string) string { return k.account(acct) + "evt:" + id }

// EventKeyPrefix is the common start of the account's Event and
// EventReceivers keys ("…evt:"): the event log's record script appends an
// event id (and ":rcv") to delete the records it trims. Every key so built
// carries the account's hash tag, so it stays in the script's slot.
func (k Keys) EventKeyPrefix(acct string) string { return k.account(acct) + "evt:" }

// Events indexes the account's events. ZSET, score 0, members event ids (lexical = time order).
func (k Keys) Events(acct string) string { return k.account(acct) + "evts" }

// EventsByType indexes the account's events of one type. ZSET like Events.
func (k Keys) EventsByType(acct, typ string) string { return k.account(acct) + "evts:type:" + typ }

// PublishedBy maps an idempotency scope (a hash of the credential and its
// Idempotency-Key) to the event a publish with it recorded, written in the
// recording transaction and kept 24 h, so a retry after a crash answers
// with the first event instead of making a second. STRING.
func (k Keys) PublishedBy(acct, scope string) string { return k.account(acct) + "evt:idem:" + scope }

// ---- customers

// Customer is one customer. HASH of its fields.
func (k Keys) Customer(acct, id string) string { return k.account(acct) + "cus:" + id }

// Customers lists the account's customer ids. ZSET, score 0, ordered by id.
func (k Keys) Customers(acct string) string { return k.account(acct) + "cuss" }

// CustomerEmails maps lower-cased email → customer id; it enforces uniqueness. HASH.
func (k Keys) CustomerEmails(acct string) string { return k.account(acct) + "cus:email" }

// ---- idempotency

// Idempotency holds one idempotency record (state, fingerprint, status,
// content_type, body), expiring after 24 h. HASH. keyHash is the SHA-256
// (hex) of the client's Idempotency-Key.
func (k Keys) Idempotency(acct, keyHash string) string { return k.account(acct) + "idem:" + keyHash }

// ---- outbound: webhooks and deliveries

// Webhook is one subscription. HASH of its settings, secrets and state.
func (k Keys) Webhook(acct, id string) string { return k.account(acct) + "whk:" + id }

// Webhooks lists the account's webhook ids. ZSET, score 0, ordered by id.
func (k Keys) Webhooks(acct string) string { return k.account(acct) + "whks" }

// WebhooksByType holds the ids of the account's webhooks subscribed to one
// event type, active or not. SET.
func (k Keys) WebhooksByType(acct, typ string) string { return k.account(acct) + "whk:type:" + typ }

// Delivery is one (event, webhook) delivery: status, attempts, schedule. HASH.
func (k Keys) Delivery(acct, id string) string { return k.account(acct) + "dlv:" + id }

// Attempts holds a delivery's attempts, oldest first, as JSON. LIST.
func (k Keys) Attempts(acct, dlv string) string { return k.account(acct) + "dlv:" + dlv + ":att" }

// DeliveriesByWebhook indexes a webhook's deliveries. ZSET, score 0, ordered by id.
func (k Keys) DeliveriesByWebhook(acct, whk string) string {
	return k.account(acct) + "whk:" + whk + ":dlvs"
}

// Due holds the account's pending deliveries. ZSET, score = next attempt
// time in Unix ms, member the delivery id. The reconciler reads it.
func (k Keys) Due(acct string) string { return k.account(acct) + "due" }

// RateLimit names a rate limiter bucket; go-redis/redis_rate adds its own
// "rate:" in front. STRING managed by redis_rate.
func (k Keys) RateLimit(acct, bucket string) string { return k.account(acct) + "rl:" + bucket }

// ---- loop safety

// EventsByResource indexes the events about one resource (a customer id).
// ZSET, score 0, members event ids; trimmed like Events.
func (k Keys) EventsByResource(acct, resource string) string {
	return k.account(acct) + "evts:res:" + resource
}

// EventReceivers held the subscriptions an event was fanned out to, each as
// "whk_id credential owner_id" ("-" for a webhook made without a
// credential). SET. Fan-out now writes them into the event's own HASH (field
// events.ReceiversField), which saves a key per event; this key is still
// read and trimmed for events recorded before, until the event log's
// retention has passed over them.
func (k Keys) EventReceivers(acct, evt string) string { return k.account(acct) + "evt:" + evt + ":rcv" }

// Incident is one loop incident (kind, status, resource, chain, credential
// or endpoint, counts, times). HASH; its event and delivery ids are in
// IncidentEvents.
func (k Keys) Incident(acct, id string) string { return k.account(acct) + "inc:" + id }

// IncidentEvents lists the event ids (and "dlv:" delivery ids) of an incident. LIST.
func (k Keys) IncidentEvents(acct, id string) string { return k.account(acct) + "inc:" + id + ":evts" }

// Incidents indexes the account's incidents. ZSET, score 0, ordered by id.
func (k Keys) Incidents(acct string) string { return k.account(acct) + "incs" }

// OpenIncident points from a resource to its open incident id. STRING.
func (k Keys) OpenIncident(acct, resource string) string {
	return k.account(acct) + "inc:open:" + resource
}

// Suppressions holds recent suppressed writes of one resource. ZSET, score
// the time in Unix ms, member a unique id; trimmed to the loop window.
func (k Keys) Suppressions(acct, resource string) string {
	return k.account(acct) + "loop:sup:" + resource
}

// Paused marks a writer (its credential, "key:key_…" or "endpoint:inb_…") paused
// by the circuit breaker; the value is the incident id. STRING.
func (k Keys) Paused(acct, subject string) string { return k.account(acct) + "loop:paused:" + subject }

// ---- inbound endpoints

// InboundToken maps an inbound endpoint token's SHA-256 (hex) to
// "acc_id inb_id". STRING; global, since a post is looked up by its token
// before the account is known.
func (k Keys) InboundToken(hash string) string { return k.prefix + ":intoken:" + hash }

// InboundEndpoint is one inbound endpoint (settings, mapping JSON,
// verification and its secret — hashed for token and basic, sealed with
// the operator key for HMAC and Standard Webhooks — token hash, and the
// refused_* counters of posts refused before verification). HASH.
func (k Keys) InboundEndpoint(acct, id string) string { return k.account(acct) + "inb:" + id }

// InboundEndpoints lists the account's inbound endpoint ids. ZSET, score 0,
// ordered by id.
func (k Keys) InboundEndpoints(acct string) string { return k.account(acct) + "inbs" }

// InboundRequest is one logged post to an inbound endpoint, as JSON,
// expiring with the log's age limit (failures sooner). STRING. The request
// log's trim script builds these keys from InboundRequest(acct, "") and
// deletes what it trims.
func (k Keys) InboundRequest(acct, id string) string { return k.account(acct) + "inreq:" + id }

// InboundRequests indexes an endpoint's logged posts. ZSET, score 0, members
// request ids (lexical = time order), trimmed by count and age on insert.
func (k Keys) InboundRequests(acct, endpoint string) string {
	return k.account(acct) + "inb:" + endpoint + ":reqs"
}

// InboundIdempotency holds the first answer to a sender's Idempotency-Key
// or webhook-id at one endpoint (state, fingerprint, status, content type,
// body, location), expiring after 24 h. HASH. keyHash is the SHA-256 (hex)
// of the sender's key.
func (k Keys) InboundIdempotency(acct, endpoint, keyHash string) string {
	return k.account(acct) + "inb:" + endpoint + ":idem:" + keyHash
}

// Outbox holds the account's events recorded but not yet handed to
// delivery. ZSET, score the time recorded in Unix ms, member the event id.
// An event leaves it once every emitter accepted it; the event log's drain
// loop hands on what stays.
func (k Keys) Outbox(acct string) string { return k.account(acct) + "outbox" }

// WriteMarks holds, for an instant, the mark a core write sets when it took
// effect (events.Mark): the event's record checks and removes it in the
// same transaction, so the HASH is empty between transactions. HASH, event
// id → "1".
func (k Keys) WriteMarks(acct string) string { return k.account(acct) + "marks" }

// ---- outbound: per-account in-flight

// InFlight holds the leases of an account's deliveries in flight, across
// every worker process. ZSET, member a lease id, score the lease's expiry
// in Unix ms (Redis time); expired leases are dropped by whoever acquires
// next, so a dead worker's slots come back on their own.
func (k Keys) InFlight(acct string) string { return k.account(acct) + "inflight" }
