package ifttt

import (
	"context"

	"github.com/hookline/hookline/app/ids"
)

// ClaimBatch takes a batch from the pending set exactly as a flush does,
// and sends nothing: the process dies right after the claim.
func ClaimBatch(ctx context.Context, s *Service) ([]string, error) {
	now := s.now()
	return s.st.takeBatch(ctx, ids.New("ntf", now), maxBatch, now, now.Add(s.opts.InFlightLease))
}

// Sweep runs one pass of the realtime sweep loop.
func Sweep(ctx context.Context, s *Service) { s.sweep(ctx) }
