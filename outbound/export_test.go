package outbound

import "context"

// SlotsInUse is how many webhooks hold per-webhook slots in this process.
func SlotsInUse(s *Service) int { return s.slots.inUse() }

// StoredSecret reads a webhook's signing secret as stored and opens it.
func StoredSecret(ctx context.Context, s *Service, acct, id string) (string, error) {
	w, err := s.st.get(ctx, acct, id)
	if err != nil {
		return "", err
	}
	w, err = s.seal.open(w)
	return w.Secret, err
}
