package outbound

import "context"

// SlotsInUse is how many webhooks of acct hold in-flight leases now
// (across every worker process: the leases live in Redis, and a webhook's
// lease set disappears with its last lease).
func SlotsInUse(s *Service, acct string) int {
	keys, _ := s.st.rdb.Keys(context.Background(), s.st.keys.WebhookInFlight(acct, "*")).Result()
	return len(keys)
}

// StoredSecret reads a webhook's signing secret as stored and opens it.
func StoredSecret(ctx context.Context, s *Service, acct, id string) (string, error) {
	w, err := s.st.get(ctx, acct, id)
	if err != nil {
		return "", err
	}
	w, err = s.seal.open(w)
	return w.Secret, err
}

// RecordAgain records one more attempt of delivery id on its current
// generation, as a second run of that generation would.
func RecordAgain(s *Service, acct, id string) (bool, error) {
	ctx := context.Background()
	d, err := s.st.delivery(ctx, acct, id)
	if err != nil {
		return false, err
	}
	d.Status = StatusPending
	return s.st.record(ctx, d, d.Gen, encodeAttempt(Attempt{Number: d.Attempts + 1}, d), "", s.opts.Retention, nil)
}
