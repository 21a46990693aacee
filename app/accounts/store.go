package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/store"
)

type accountStore struct {
	rdb  redis.UniversalClient
	keys store.Keys
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// create writes an account, its owner and the owner's key in one
// transaction, after claiming the owner's login email.
func (s *accountStore) create(ctx context.Context, a Account, u User, pwHash string, k APIKey, keyHash string) error {
	emailKey := s.keys.UserEmail(strings.ToLower(u.Email))
	ok, err := s.rdb.SetNX(ctx, emailKey, a.ID+" "+u.ID, 0).Result()
	if err != nil {
		return fmt.Errorf("accounts: claim email: %w", err)
	}
	if !ok {
		return apperr.InvalidField("email", "is already registered")
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keys.Account(a.ID), "id", a.ID, "name", a.Name, "status", a.Status, "created_at", store.MS(a.CreatedAt))
		p.HSet(ctx, s.keys.User(a.ID, u.ID), "id", u.ID, "email", u.Email, "name", u.Name,
			"password_hash", pwHash, "perms", strings.Join(u.Permissions, ","), "created_at", store.MS(u.CreatedAt))
		p.ZAdd(ctx, s.keys.Users(a.ID), redis.Z{Member: u.ID})
		s.writeKey(ctx, p, k, keyHash)
		return nil
	})
	if err != nil {
		// The email claim must not outlive a failed account.
		_ = s.rdb.Del(ctx, emailKey).Err()
		return fmt.Errorf("accounts: create account: %w", err)
	}
	// The account list is for operators; keys of one account stay in its slot.
	if err := s.rdb.SAdd(ctx, s.keys.Accounts(), a.ID).Err(); err != nil {
		return fmt.Errorf("accounts: list account: %w", err)
	}
	return nil
}

func (s *accountStore) writeKey(ctx context.Context, p redis.Pipeliner, k APIKey, keyHash string) {
	p.HSet(ctx, s.keys.APIKey(k.AccountID, k.ID), "id", k.ID, "user_id", k.UserID, "name", k.Name,
		"prefix", k.Prefix, "hash", keyHash, "perms", strings.Join(k.Permissions, ","),
		"created_at", store.MS(k.CreatedAt), "last_used_at", 0, "revoked_at", 0)
	p.ZAdd(ctx, s.keys.APIKeys(k.AccountID), redis.Z{Member: k.ID})
}

// addKey stores a new key, then its lookup index; a key is usable only once
// both exist.
func (s *accountStore) addKey(ctx context.Context, k APIKey, keyHash string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		s.writeKey(ctx, p, k, keyHash)
		return nil
	})
	if err != nil {
		return fmt.Errorf("accounts: add key: %w", err)
	}
	return s.indexKey(ctx, k, keyHash)
}

func (s *accountStore) indexKey(ctx context.Context, k APIKey, keyHash string) error {
	if err := s.rdb.Set(ctx, s.keys.APIKeyIndex(keyHash), k.AccountID+" "+k.ID+" "+k.UserID, 0).Err(); err != nil {
		return fmt.Errorf("accounts: index key: %w", err)
	}
	return nil
}

func (s *accountStore) account(ctx context.Context, id string) (Account, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.Account(id)).Result()
	if err != nil {
		return Account{}, fmt.Errorf("accounts: load account: %w", err)
	}
	if len(m) == 0 {
		return Account{}, apperr.NotFound("account")
	}
	return accountFrom(m), nil
}

func accountFrom(m map[string]string) Account {
	return Account{ID: m["id"], Name: m["name"], Status: m["status"], CreatedAt: store.Time(m["created_at"])}
}

func userFrom(acct string, m map[string]string) User {
	return User{ID: m["id"], AccountID: acct, Email: m["email"], Name: m["name"],
		Permissions: splitList(m["perms"]), CreatedAt: store.Time(m["created_at"]),
		DeactivatedAt: store.Time(m["deactivated_at"])}
}

func keyFrom(acct string, m map[string]string) APIKey {
	return APIKey{ID: m["id"], AccountID: acct, UserID: m["user_id"], Name: m["name"], Prefix: m["prefix"],
		Permissions: splitList(m["perms"]), CreatedAt: store.Time(m["created_at"]),
		LastUsedAt: store.Time(m["last_used_at"]), RevokedAt: store.Time(m["revoked_at"])}
}

// lookup is one authentication's reads: the index, then key, account and
// user in one round trip.
type lookup struct {
	key     APIKey
	hash    string
	account Account
	user    User
	userOK  bool
}

var errNoKey = errors.New("no such key")

func (s *accountStore) lookupKey(ctx context.Context, keyHash string) (lookup, error) {
	ref, err := s.rdb.Get(ctx, s.keys.APIKeyIndex(keyHash)).Result()
	if errors.Is(err, redis.Nil) {
		return lookup{}, errNoKey
	}
	if err != nil {
		return lookup{}, fmt.Errorf("accounts: key index: %w", err)
	}
	parts := strings.Fields(ref)
	if len(parts) != 3 {
		return lookup{}, fmt.Errorf("accounts: key index entry %q is corrupt", ref)
	}
	acct, keyID, userID := parts[0], parts[1], parts[2]
	p := s.rdb.Pipeline()
	kc := p.HGetAll(ctx, s.keys.APIKey(acct, keyID))
	ac := p.HGetAll(ctx, s.keys.Account(acct))
	uc := p.HGetAll(ctx, s.keys.User(acct, userID))
	if _, err := p.Exec(ctx); err != nil {
		return lookup{}, fmt.Errorf("accounts: load key: %w", err)
	}
	km := kc.Val()
	if len(km) == 0 || len(ac.Val()) == 0 {
		return lookup{}, errNoKey
	}
	return lookup{
		key: keyFrom(acct, km), hash: km["hash"], account: accountFrom(ac.Val()),
		user: userFrom(acct, uc.Val()), userOK: len(uc.Val()) > 0,
	}, nil
}

func (s *accountStore) touchKey(ctx context.Context, acct, id string, at time.Time) error {
	return s.rdb.HSet(ctx, s.keys.APIKey(acct, id), "last_used_at", store.MS(at)).Err()
}

func (s *accountStore) key(ctx context.Context, acct, id string) (APIKey, string, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.APIKey(acct, id)).Result()
	if err != nil {
		return APIKey{}, "", fmt.Errorf("accounts: load key: %w", err)
	}
	if len(m) == 0 {
		return APIKey{}, "", apperr.NotFound("API key")
	}
	return keyFrom(acct, m), m["hash"], nil
}

func (s *accountStore) listKeys(ctx context.Context, acct, after string, limit int) ([]APIKey, string, error) {
	return store.Page(ctx, s.rdb, s.keys.APIKeys(acct), after, limit,
		func(id string) string { return s.keys.APIKey(acct, id) },
		func(m map[string]string) APIKey { return keyFrom(acct, m) })
}

// activeKeys counts the account's keys that are not revoked.
func (s *accountStore) activeKeys(ctx context.Context, acct string) (int, error) {
	n, after := 0, ""
	for {
		page, next, err := s.listKeys(ctx, acct, after, 500)
		if err != nil {
			return 0, err
		}
		for _, k := range page {
			if k.RevokedAt.IsZero() {
				n++
			}
		}
		if next == "" {
			return n, nil
		}
		after = next
	}
}

// revokeKey marks the key revoked and removes its lookup index, so the next
// request with it fails.
func (s *accountStore) revokeKey(ctx context.Context, k APIKey, keyHash string, at time.Time) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keys.APIKey(k.AccountID, k.ID), "revoked_at", store.MS(at))
		return nil
	})
	if err != nil {
		return fmt.Errorf("accounts: revoke key: %w", err)
	}
	if err := s.rdb.Del(ctx, s.keys.APIKeyIndex(keyHash)).Err(); err != nil {
		return fmt.Errorf("accounts: unindex key: %w", err)
	}
	return nil
}

func (s *accountStore) user(ctx context.Context, acct, id string) (User, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.User(acct, id)).Result()
	if err != nil {
		return User{}, fmt.Errorf("accounts: load user: %w", err)
	}
	if len(m) == 0 {
		return User{}, apperr.NotFound("user")
	}
	return userFrom(acct, m), nil
}

var (
	errNoUser    = errors.New("no such user")
	errNoAccount = errors.New("no such account")
)

// accountAndUser reads an account and one of its users in one round trip.
// ok is false when the user is gone; errNoAccount when the account is.
func (s *accountStore) accountAndUser(ctx context.Context, acct, userID string) (Account, User, bool, error) {
	p := s.rdb.Pipeline()
	ac := p.HGetAll(ctx, s.keys.Account(acct))
	uc := p.HGetAll(ctx, s.keys.User(acct, userID))
	if _, err := p.Exec(ctx); err != nil {
		return Account{}, User{}, false, fmt.Errorf("accounts: load account and user: %w", err)
	}
	if len(ac.Val()) == 0 {
		return Account{}, User{}, false, errNoAccount
	}
	return accountFrom(ac.Val()), userFrom(acct, uc.Val()), len(uc.Val()) > 0, nil
}

// userByEmail finds a user by lower-cased login email, with the password hash.
func (s *accountStore) userByEmail(ctx context.Context, email string) (User, string, error) {
	ref, err := s.rdb.Get(ctx, s.keys.UserEmail(email)).Result()
	if errors.Is(err, redis.Nil) {
		return User{}, "", errNoUser
	}
	if err != nil {
		return User{}, "", fmt.Errorf("accounts: login lookup: %w", err)
	}
	acct, uid, _ := strings.Cut(ref, " ")
	m, err := s.rdb.HGetAll(ctx, s.keys.User(acct, uid)).Result()
	if err != nil {
		return User{}, "", fmt.Errorf("accounts: load user: %w", err)
	}
	if len(m) == 0 {
		return User{}, "", errNoUser
	}
	return userFrom(acct, m), m["password_hash"], nil
}

// owner returns the id of the account's first user, its owner.
func (s *accountStore) owner(ctx context.Context, acct string) (string, error) {
	first, err := s.rdb.ZRangeByLex(ctx, s.keys.Users(acct), &redis.ZRangeBy{Min: "-", Max: "+", Count: 1}).Result()
	if err != nil {
		return "", fmt.Errorf("accounts: find owner of %s: %w", acct, err)
	}
	if len(first) == 0 {
		return "", apperr.NotFound("account owner")
	}
	return first[0], nil
}
