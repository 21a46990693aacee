package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/store"
)

func (s *accountStore) listUsers(ctx context.Context, acct, after string, limit int) ([]User, string, error) {
	return store.Page(ctx, s.rdb, s.keys.Users(acct), after, limit,
		func(id string) string { return s.keys.User(acct, id) },
		func(m map[string]string) User { return userFrom(acct, m) })
}

// addUser claims the login email, then writes the user and indexes it in
// one transaction; the claim is released if that fails.
func (s *accountStore) addUser(ctx context.Context, u User, pwHash string) error {
	emailKey := s.keys.UserEmail(strings.ToLower(u.Email))
	ok, err := s.rdb.SetNX(ctx, emailKey, u.AccountID+" "+u.ID, 0).Result()
	if err != nil {
		return fmt.Errorf("accounts: claim email: %w", err)
	}
	if !ok {
		return apperr.InvalidField("email", "is already registered")
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keys.User(u.AccountID, u.ID), "id", u.ID, "email", u.Email, "name", u.Name,
			"password_hash", pwHash, "perms", strings.Join(u.Permissions, ","), "created_at", store.MS(u.CreatedAt),
			"deactivated_at", 0)
		p.ZAdd(ctx, s.keys.Users(u.AccountID), redis.Z{Member: u.ID})
		return nil
	})
	if err != nil {
		_ = s.rdb.Del(ctx, emailKey).Err()
		return fmt.Errorf("accounts: add user: %w", err)
	}
	return nil
}

// updateUser writes a user's permissions and deactivation time, only if
// the user still exists (a HSET on a deleted user would resurrect half a record).
func (s *accountStore) updateUser(ctx context.Context, u User) error {
	n, err := updateUserScript.Run(ctx, s.rdb, []string{s.keys.User(u.AccountID, u.ID)},
		strings.Join(u.Permissions, ","), store.MS(u.DeactivatedAt)).Int()
	if err != nil {
		return fmt.Errorf("accounts: update user: %w", err)
	}
	if n == 0 {
		return apperr.NotFound("user")
	}
	return nil
}

// updateUserScript sets perms and deactivated_at on an existing user.
// KEYS[1] the user HASH; ARGV[1] perms, ARGV[2] deactivated_at (ms, 0 active).
// Returns 1, or 0 when the user does not exist.
var updateUserScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'perms', ARGV[1], 'deactivated_at', ARGV[2])
return 1`)

func (s *accountStore) passwordHash(ctx context.Context, acct, id string) (string, error) {
	h, err := s.rdb.HGet(ctx, s.keys.User(acct, id), "password_hash").Result()
	if errors.Is(err, redis.Nil) {
		return "", apperr.NotFound("user")
	}
	if err != nil {
		return "", fmt.Errorf("accounts: load password: %w", err)
	}
	return h, nil
}

func (s *accountStore) setPassword(ctx context.Context, acct, id, hash string) error {
	if err := s.rdb.HSet(ctx, s.keys.User(acct, id), "password_hash", hash).Err(); err != nil {
		return fmt.Errorf("accounts: set password: %w", err)
	}
	return nil
}
