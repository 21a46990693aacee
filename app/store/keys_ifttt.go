package store

// ---- IFTTT (integrations/ifttt): OAuth connections, tokens, trigger
// identities and realtime notifications. Kept apart from keys.go so the
// integration's keys read in one place; the same rules hold (per-account
// keys carry {acc_…}).

// IFTTTToken maps the SHA-256 (hex) of an IFTTT access or refresh token to
// "acc_id conn_id kind until_ms" (kind "access" or "refresh"; until_ms 0
// while the token does not expire, else the end of its grace after a
// rotation). STRING; global, since a bearer token is looked up before the
// account is known.
func (k Keys) IFTTTToken(hash string) string { return k.prefix + ":ifttt:tok:" + hash }

// IFTTTCode holds one authorization code, keyed by its SHA-256 (hex):
// "acc_id usr_id created_ms", expiring after 10 minutes and removed on
// first use (GETDEL). STRING; global.
func (k Keys) IFTTTCode(hash string) string { return k.prefix + ":ifttt:code:" + hash }

// IFTTTAuthorization is one pending authorization request (client state,
// scope, CSRF token hash, and once signed in the account and user),
// expiring after 15 minutes. HASH; global, keyed by the random id the
// sign-in and consent forms carry.
func (k Keys) IFTTTAuthorization(id string) string { return k.prefix + ":ifttt:authz:" + id }

// IFTTTSignInAttempts counts failed sign-ins on the authorization page for
// one subject (a hashed email or client address) in the current window.
// STRING (integer) with a TTL; global.
func (k Keys) IFTTTSignInAttempts(subject string) string {
	return k.prefix + ":ifttt:signin:" + subject
}

// IFTTTTestAccount names the account test/setup created for IFTTT's
// endpoint tests: "acc_id usr_id conn_id". STRING; global.
func (k Keys) IFTTTTestAccount() string { return k.prefix + ":ifttt:testaccount" }

// IFTTTIdentityIndex maps a trigger identity (IFTTT's id) to the account
// holding it, so DELETE …/trigger_identity/{id}, which carries no bearer
// token, finds it. STRING; global.
func (k Keys) IFTTTIdentityIndex(identity string) string {
	return k.prefix + ":ifttt:tid:" + identity
}

// IFTTTPending holds the trigger identities with a notification waiting to
// be sent, as "acc_id identity". ZSET, score the time first queued in Unix
// ms (later events of the same identity coalesce into that entry). Global,
// with the {ifttt} hash tag it shares with IFTTTBatch so one Lua script
// moves entries from one to the other.
func (k Keys) IFTTTPending() string { return k.prefix + ":{ifttt}:pending" }

// IFTTTBatch is one notification request being sent or retried: fields
// "entries" (JSON array of "acc_id identity"), "created_ms" and
// "attempt". HASH; global, {ifttt} tag. It has no TTL: it lives while its
// id is in IFTTTInFlight, and is deleted with that member when sent, given
// up or handed back to IFTTTPending by the sweep.
func (k Keys) IFTTTBatch(id string) string { return k.prefix + ":{ifttt}:batch:" + id }

// IFTTTInFlight holds the ids of the notification batches taken from
// IFTTTPending and not finished yet. ZSET, score the end of the batch's
// lease in Unix ms (extended while it is sent or waits for a retry); the
// sweep hands the identities of a batch whose lease ended back to
// IFTTTPending, so a process that dies mid-send loses nothing. Global,
// {ifttt} tag.
func (k Keys) IFTTTInFlight() string { return k.prefix + ":{ifttt}:inflight" }

// IFTTTConnection is one IFTTT connection, an oauth credential of a user
// (user_id, client_id, scope, created_at, last_used_at, revoked_at). HASH.
func (k Keys) IFTTTConnection(acct, id string) string { return k.account(acct) + "ifttt:conn:" + id }

// IFTTTConnections lists the account's connection ids. ZSET, score 0,
// ordered by id.
func (k Keys) IFTTTConnections(acct string) string { return k.account(acct) + "ifttt:conns" }

// IFTTTConnectionTokens holds the hashes of every token issued to one
// connection (members "access:<hash>" or "refresh:<hash>"), so revoking it
// deletes each IFTTTToken. SET.
func (k Keys) IFTTTConnectionTokens(acct, id string) string {
	return k.account(acct) + "ifttt:conn:" + id + ":toks"
}

// IFTTTIdentity is one registered trigger identity: user_id, conn_id,
// trigger (slug), topic, fields (JSON), created_at. HASH.
func (k Keys) IFTTTIdentity(acct, identity string) string {
	return k.account(acct) + "ifttt:tid:" + identity
}

// IFTTTTopic holds the trigger identities an event topic notifies: topic
// "new_customer", "updated_customer" or "new_event:<event type>". SET of
// identities.
func (k Keys) IFTTTTopic(acct, topic string) string { return k.account(acct) + "ifttt:topic:" + topic }

// IFTTTConnectionIdentities holds the trigger identities registered
// through one connection, dropped when it is revoked. SET of identities.
func (k Keys) IFTTTConnectionIdentities(acct, conn string) string {
	return k.account(acct) + "ifttt:conn:" + conn + ":tids"
}

// IFTTTNotified marks an event the realtime emitter has handled, so an
// outbox replay does not notify twice. STRING "1", expiring after a day.
func (k Keys) IFTTTNotified(acct, evt string) string { return k.account(acct) + "ifttt:evt:" + evt }
