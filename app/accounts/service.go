package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/app/validate"
)

// KeyPrefix starts every API key.
const KeyPrefix = "hk_"

// Options tune the service; zero values mean the defaults.
type Options struct {
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// BcryptCost is the password hashing cost. Zero means bcrypt.DefaultCost.
	BcryptCost int
	// TouchEvery bounds how often last_used_at is written. Zero means 1 minute.
	TouchEvery time.Duration
	// MaxKeys is how many active (unrevoked) keys an account may hold.
	// Zero means 100.
	MaxKeys int
	Log     *slog.Logger
}

// Service manages accounts, users and API keys, and builds the principal of
// every credential kind (principal.go).
type Service struct {
	st       *accountStore
	opts     Options
	onRevoke []RevokeHook
}

// New returns a Service.
func New(rdb redis.UniversalClient, keys store.Keys, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BcryptCost == 0 {
		opts.BcryptCost = bcrypt.DefaultCost
	}
	if opts.TouchEvery == 0 {
		opts.TouchEvery = time.Minute
	}
	if opts.MaxKeys == 0 {
		opts.MaxKeys = 100
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Service{st: &accountStore{rdb: rdb, keys: keys}, opts: opts}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// newRawKey returns a fresh key and its stored hash.
func newRawKey() (raw, hash string) {
	raw = KeyPrefix + ids.Secret(32)
	return raw, hashKey(raw)
}

func hashKey(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

// CreateAccount creates an account, its owner (holding every permission) and
// the owner's first API key. It is for operators (the admin command).
func (s *Service) CreateAccount(ctx context.Context, in NewAccount) (Created, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.Email = strings.TrimSpace(in.Email)
	if err := validate.Struct(&in); err != nil {
		return Created{}, err
	}
	pw, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.opts.BcryptCost)
	if err != nil {
		return Created{}, fmt.Errorf("accounts: hash password: %w", err)
	}
	now := s.now()
	a := Account{ID: ids.New(ids.Account, now), Name: in.Name, Status: "active", CreatedAt: now}
	u := User{ID: ids.New(ids.User, now), AccountID: a.ID, Email: in.Email, Name: in.Name,
		Permissions: perm.NewSet(perm.All...).List(), CreatedAt: now}
	raw, hash := newRawKey()
	k := APIKey{ID: ids.New(ids.Key, now), AccountID: a.ID, UserID: u.ID, Name: "owner key",
		Prefix: raw[:len(KeyPrefix)+6], Permissions: u.Permissions, CreatedAt: now}
	if err := s.st.create(ctx, a, u, string(pw), k, hash); err != nil {
		return Created{}, err
	}
	if err := s.st.indexKey(ctx, k, hash); err != nil {
		return Created{}, err
	}
	return Created{Account: a, Owner: u, Key: k, RawKey: raw}, nil
}

// CheckPassword returns the user whose login email and password match, or an
// unauthorized error that does not say which part was wrong.
func (s *Service) CheckPassword(ctx context.Context, email, password string) (User, error) {
	bad := apperr.Unauthorized("wrong email or password")
	u, hash, err := s.st.userByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if errors.Is(err, errNoUser) {
		// Spend the same time as a real check, so emails cannot be probed by timing.
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return User{}, bad
	}
	if err != nil {
		return User{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return User{}, bad
	}
	return u, nil
}

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a real password"), bcrypt.MinCost)

// NewKey is the input to CreateKey.
type NewKey struct {
	Name        string   `json:"name" validate:"required,max=100"`
	Permissions []string `json:"permissions" validate:"required,min=1,max=20,dive,required"`
}

func (in *NewKey) check() error {
	in.Name = strings.TrimSpace(in.Name)
	if err := validate.Struct(in); err != nil {
		return err
	}
	for i, p := range in.Permissions {
		if !perm.Known(p) {
			return apperr.InvalidField(fmt.Sprintf("permissions[%d]", i),
				fmt.Sprintf("%q is not a permission; known: %s", p, strings.Join(perm.All, ", ")))
		}
	}
	in.Permissions = perm.NewSet(in.Permissions...).List()
	return nil
}

// CreateKey mints a key for the caller's user. The caller needs manage:keys,
// and a key can grant only permissions its caller holds: asking for more is
// a 403 naming the first missing one.
func (s *Service) CreateKey(ctx context.Context, p auth.Principal, in NewKey) (APIKey, string, error) {
	if err := p.Require(perm.ManageKeys); err != nil {
		return APIKey{}, "", err
	}
	if err := in.check(); err != nil {
		return APIKey{}, "", err
	}
	if missing := p.Perms.Missing(perm.NewSet(in.Permissions...)); missing != "" {
		e := apperr.Forbidden(missing)
		e.Message = fmt.Sprintf("a key cannot grant %q: the caller does not hold it", missing)
		return APIKey{}, "", e
	}
	return s.mint(ctx, p.AccountID, p.UserID, in)
}

// AdminCreateKey mints a key for an account's owner, for operators.
func (s *Service) AdminCreateKey(ctx context.Context, accountID string, in NewKey) (APIKey, string, error) {
	if err := in.check(); err != nil {
		return APIKey{}, "", err
	}
	if _, err := s.st.account(ctx, accountID); err != nil {
		return APIKey{}, "", err
	}
	owner, err := s.st.owner(ctx, accountID)
	if err != nil {
		return APIKey{}, "", err
	}
	return s.mint(ctx, accountID, owner, in)
}

func (s *Service) mint(ctx context.Context, acct, userID string, in NewKey) (APIKey, string, error) {
	// Keys are minted rarely, so counting the active ones by reading the
	// account's key records is cheap enough and needs no counter to keep.
	active, err := s.st.activeKeys(ctx, acct)
	if err != nil {
		return APIKey{}, "", err
	}
	if active >= s.opts.MaxKeys {
		return APIKey{}, "", apperr.Conflict(fmt.Sprintf(
			"the account has reached its limit of %d active API keys (HOOKLINE_MAX_KEYS); revoke unused ones first", s.opts.MaxKeys))
	}
	now := s.now()
	raw, hash := newRawKey()
	k := APIKey{ID: ids.New(ids.Key, now), AccountID: acct, UserID: userID, Name: in.Name,
		Prefix: raw[:len(KeyPrefix)+6], Permissions: in.Permissions, CreatedAt: now}
	if err := s.st.addKey(ctx, k, hash); err != nil {
		return APIKey{}, "", err
	}
	return k, raw, nil
}

// ListKeys lists the account's keys, newest first; revoked keys show revoked_at.
func (s *Service) ListKeys(ctx context.Context, p auth.Principal, after string, limit int) ([]APIKey, string, error) {
	if err := p.Require(perm.ManageKeys); err != nil {
		return nil, "", err
	}
	return s.st.listKeys(ctx, p.AccountID, after, limit)
}

// RevokeKey revokes one of the account's keys; the next request with it
// fails. An unknown, foreign or already revoked key is not found.
func (s *Service) RevokeKey(ctx context.Context, p auth.Principal, id string) (APIKey, error) {
	if err := p.Require(perm.ManageKeys); err != nil {
		return APIKey{}, err
	}
	if !ids.HasPrefix(id, ids.Key) {
		return APIKey{}, apperr.NotFound("API key")
	}
	k, hash, err := s.st.key(ctx, p.AccountID, id)
	if err != nil {
		return APIKey{}, err
	}
	if !k.RevokedAt.IsZero() {
		return APIKey{}, apperr.NotFound("API key")
	}
	k.RevokedAt = s.now()
	if err := s.st.revokeKey(ctx, k, hash, k.RevokedAt); err != nil {
		return APIKey{}, err
	}
	s.Revoked(ctx, k.AccountID, auth.Credential{Kind: auth.KindKey, ID: k.ID, Name: k.Name})
	return k, nil
}

// Account returns the caller's account.
func (s *Service) Account(ctx context.Context, id string) (Account, error) {
	return s.st.account(ctx, id)
}

// User returns one of the account's users.
func (s *Service) User(ctx context.Context, acct, id string) (User, error) {
	return s.st.user(ctx, acct, id)
}
