package httpapi

import (
	"encoding/base64"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
)

// List limits from DESIGN.md.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Page is the body of every list response, newest first.
type Page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// NewPage wraps items and the id to continue after ("" when there is no more).
func NewPage[T any](items []T, after string) Page[T] {
	if items == nil {
		items = []T{}
	}
	p := Page[T]{Data: items}
	if after != "" {
		cur := base64.RawURLEncoding.EncodeToString([]byte(after))
		p.NextCursor = &cur
	}
	return p
}

// ListParams reads ?limit= and ?cursor=; the cursor decodes to the id to
// continue after.
func ListParams(c *fiber.Ctx) (limit int, after string, err error) {
	limit = DefaultLimit
	if s := c.Query("limit"); s != "" {
		n, perr := strconv.Atoi(s)
		if perr != nil || n < 1 || n > MaxLimit {
			return 0, "", apperr.InvalidField("limit", "must be a whole number from 1 to 200")
		}
		limit = n
	}
	if s := c.Query("cursor"); s != "" {
		b, derr := base64.RawURLEncoding.DecodeString(s)
		if derr != nil || len(b) == 0 || len(b) > 128 {
			return 0, "", apperr.InvalidField("cursor", "is not a cursor this API returned")
		}
		after = string(b)
	}
	return limit, after, nil
}

// List answers a list request: it reads ?limit= and ?cursor=, calls load
// with the id to continue after and the limit, renders each item with view
// and writes the page. Every list route of the JSON API goes through it.
func List[T, V any](c *fiber.Ctx, load func(after string, limit int) ([]T, string, error), view func(T) V) error {
	limit, after, err := ListParams(c)
	if err != nil {
		return err
	}
	items, next, err := load(after, limit)
	if err != nil {
		return err
	}
	out := make([]V, len(items))
	for i, it := range items {
		out[i] = view(it)
	}
	return c.JSON(NewPage(out, next))
}

// Same is the view of a list whose items are rendered as they are.
func Same[T any](t T) T { return t }
