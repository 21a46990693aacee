package customers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/events"
	"github.com/hookline/hookline/app/store"
)

type customerStore struct {
	rdb  redis.UniversalClient
	keys store.Keys
}

func emailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

var errRetry = errors.New("customers: concurrent write, retry")

func fields(c Customer) []any {
	return []any{"id", c.ID, "name", c.Name, "email", c.Email, "email_key", emailKey(c.Email),
		"phone", c.Phone, "birthday", c.Birthday, "notes", c.Notes, "external_id", c.ExternalID,
		"created_at", store.MS(c.CreatedAt), "updated_at", store.MS(c.UpdatedAt), "version", c.version}
}

func fromHash(m map[string]string) Customer {
	ms := func(k string) int64 { n, _ := strconv.ParseInt(m[k], 10, 64); return n }
	c := Customer{ID: m["id"], Name: m["name"], Email: m["email"], Phone: m["phone"], Birthday: m["birthday"],
		Notes: m["notes"], ExternalID: m["external_id"], version: ms("version")}
	c.CreatedAt = store.Time(m["created_at"])
	c.UpdatedAt = store.Time(m["updated_at"])
	return c
}

// The write scripts run in one transaction with the event they cause
// (events.Log.EmitWith): each sets the transaction's mark (events.Mark, the
// last KEYS and ARGV) when, and only when, it changes something, and the
// event is recorded only then. Each queue* queues its script with EVAL (a
// transaction cannot fall back from EVALSHA) and its *Result reads the
// reply after EXEC.

// createScript inserts a customer unless its email is taken.
// KEYS[1] customer HASH, KEYS[2] email→id HASH, KEYS[3] id index ZSET,
// KEYS[4] the mark's HASH.
// ARGV[1] id, ARGV[2] email key, ARGV[3] the mark's field, ARGV[4…]
// field/value pairs.
// Returns the new id, or the id of the customer holding the email prefixed "taken:".
var createScript = redis.NewScript(`
local holder = redis.call('HGET', KEYS[2], ARGV[2])
if holder then return 'taken:' .. holder end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('HSET', KEYS[4], ARGV[3], '1')
return ARGV[1]
`)

func (s *customerStore) queueCreate(ctx context.Context, p redis.Pipeliner, acct string, c Customer, m events.Mark) *redis.Cmd {
	args := append([]any{c.ID, emailKey(c.Email), m.Field}, fields(c)...)
	return createScript.Eval(ctx, p, []string{s.keys.Customer(acct, c.ID), s.keys.CustomerEmails(acct), s.keys.Customers(acct), m.Key}, args...)
}

// createResult is who holds the email when the create did not happen ("" when it did).
func createResult(cmd *redis.Cmd) (taken string, err error) {
	res, err := cmd.Text()
	if err != nil {
		return "", fmt.Errorf("customers: create: %w", err)
	}
	if holder, ok := strings.CutPrefix(res, "taken:"); ok {
		return holder, nil
	}
	return "", nil
}

// updateScript replaces a customer's fields if its version is unchanged,
// moving the email claim when the email changes.
// KEYS[1] customer HASH, KEYS[2] email→id HASH, KEYS[3] the mark's HASH.
// ARGV[1] id, ARGV[2] expected version, ARGV[3] old email key, ARGV[4] new
// email key, ARGV[5] the mark's field, ARGV[6…] field/value pairs.
// Returns "ok", "gone", "retry" or "taken".
var updateScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'version')
if not v then return 'gone' end
if v ~= ARGV[2] then return 'retry' end
if ARGV[3] ~= ARGV[4] then
  local holder = redis.call('HGET', KEYS[2], ARGV[4])
  if holder and holder ~= ARGV[1] then return 'taken' end
  redis.call('HDEL', KEYS[2], ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[1])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('HSET', KEYS[3], ARGV[5], '1')
return 'ok'
`)

func (s *customerStore) queueUpdate(ctx context.Context, p redis.Pipeliner, acct string, old, next Customer, m events.Mark) *redis.Cmd {
	args := append([]any{next.ID, old.version, emailKey(old.Email), emailKey(next.Email), m.Field}, fields(next)...)
	return updateScript.Eval(ctx, p, []string{s.keys.Customer(acct, next.ID), s.keys.CustomerEmails(acct), m.Key}, args...)
}

func updateResult(cmd *redis.Cmd) error {
	res, err := cmd.Text()
	if err != nil {
		return fmt.Errorf("customers: update: %w", err)
	}
	switch res {
	case "gone":
		return apperr.NotFound("customer")
	case "retry":
		return errRetry
	case "taken":
		return apperr.InvalidField("email", "another customer already has this email")
	}
	return nil
}

// deleteScript removes a customer if its version is unchanged.
// KEYS[1] customer HASH, KEYS[2] email→id HASH, KEYS[3] id index ZSET,
// KEYS[4] the mark's HASH.
// ARGV[1] id, ARGV[2] expected version, ARGV[3] the mark's field.
// Returns "ok", "gone" or "retry".
var deleteScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'version')
if not v then return 'gone' end
if v ~= ARGV[2] then return 'retry' end
local ek = redis.call('HGET', KEYS[1], 'email_key')
if redis.call('HGET', KEYS[2], ek) == ARGV[1] then redis.call('HDEL', KEYS[2], ek) end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[3], '1')
return 'ok'
`)

func (s *customerStore) queueDelete(ctx context.Context, p redis.Pipeliner, acct string, c Customer, m events.Mark) *redis.Cmd {
	return deleteScript.Eval(ctx, p, []string{s.keys.Customer(acct, c.ID), s.keys.CustomerEmails(acct), s.keys.Customers(acct), m.Key},
		c.ID, c.version, m.Field)
}

func deleteResult(cmd *redis.Cmd) error {
	res, err := cmd.Text()
	if err != nil {
		return fmt.Errorf("customers: delete: %w", err)
	}
	switch res {
	case "gone":
		return apperr.NotFound("customer")
	case "retry":
		return errRetry
	}
	return nil
}

func (s *customerStore) get(ctx context.Context, acct, id string) (Customer, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.Customer(acct, id)).Result()
	if err != nil {
		return Customer{}, fmt.Errorf("customers: load %s: %w", id, err)
	}
	if len(m) == 0 {
		return Customer{}, apperr.NotFound("customer")
	}
	return fromHash(m), nil
}

func (s *customerStore) idByEmail(ctx context.Context, acct, email string) (string, error) {
	id, err := s.rdb.HGet(ctx, s.keys.CustomerEmails(acct), emailKey(email)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("customers: find by email: %w", err)
	}
	return id, nil
}

func (s *customerStore) list(ctx context.Context, acct, after string, limit int) ([]Customer, string, error) {
	return store.Page(ctx, s.rdb, s.keys.Customers(acct), after, limit,
		func(id string) string { return s.keys.Customer(acct, id) }, fromHash)
}
