package store

// ---- outbound: per-webhook in-flight leases and the deliveries waiting for them

// WebhookInFlight holds the leases of one webhook's attempts in flight,
// across every worker process, as InFlight does for the account: ZSET,
// member a lease id, score its expiry in Unix ms (Redis time). Redis drops
// the key with its last lease, so idle webhooks leave nothing behind.
func (k Keys) WebhookInFlight(acct, whk string) string {
	return k.account(acct) + "inflight:whk:" + whk
}

// Parked lists the Asynq task ids of attempts that found the webhook at
// its in-flight cap, oldest first; each lease released wakes the first.
// LIST of task ids ("<delivery id>-<gen>"). Each parked attempt also has a
// scheduled task, so a lost wake-up delays it, never loses it.
func (k Keys) Parked(acct, whk string) string { return k.account(acct) + "parked:whk:" + whk }

// AccountParked lists the task ids of attempts that found the account at
// its in-flight cap (InFlight), as Parked does for one webhook. LIST.
func (k Keys) AccountParked(acct string) string { return k.account(acct) + "parked" }
