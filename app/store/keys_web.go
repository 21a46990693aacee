package store

// ---- dashboard sessions (web/). Sessions are looked up by their cookie
// before the account is known, so their keys are global, like APIKeyIndex.

// WebSession is one dashboard session, keyed by the SHA-256 (hex) of its
// cookie value so a Redis dump holds no usable session. STRING (Fiber's
// encoded session data), expiring with the session.
func (k Keys) WebSession(hash string) string { return k.prefix + ":websess:" + hash }

// WebUserSessions holds the sessions of one user, for "sign out other
// sessions". SET of "<WebSession hash>:<session credential id (ses_…)>"
// (the id is what accounts.Revoked is told); members may outlive their
// session.
func (k Keys) WebUserSessions(acct, user string) string {
	return k.account(acct) + "websess:" + user
}

// WebLoginFailures counts failed sign-ins for one subject (a lower-cased
// email or a client address, prefixed by its kind) within the throttle
// window. STRING (integer), expiring with the window.
func (k Keys) WebLoginFailures(subject string) string { return k.prefix + ":weblogin:" + subject }
