package accounts

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/idempotency"
)

type handlers struct{ svc *Service }

type keyResponse struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix"`
	UserID      string     `json:"user_id"`
	Permissions []string   `json:"permissions"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
}

func newKeyResponse(k APIKey) keyResponse {
	return keyResponse{ID: k.ID, Name: k.Name, Prefix: k.Prefix, UserID: k.UserID, Permissions: k.Permissions,
		CreatedAt: k.CreatedAt, LastUsedAt: httpapi.Time(k.LastUsedAt), RevokedAt: httpapi.Time(k.RevokedAt)}
}

type keyCreated struct {
	keyResponse
	APIKey string `json:"api_key"`
}

type meResponse struct {
	Account struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"account"`
	User struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"user"`
	Key struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
	} `json:"key"`
	// Label names the connection for people, e.g. in Zapier's account list.
	Label string `json:"label"`
}

func (h *handlers) me(c *fiber.Ctx) error {
	p := httpapi.Principal(c)
	u, err := h.svc.User(c.UserContext(), p.AccountID, p.UserID)
	if err != nil {
		return err
	}
	var r meResponse
	r.Account.ID, r.Account.Name = p.AccountID, p.AccountName
	r.User.ID, r.User.Email = u.ID, u.Email
	r.Key.ID, r.Key.Name, r.Key.Permissions = p.Credential.ID, p.Credential.Name, p.Perms.List()
	r.Label = p.AccountName + " (" + p.Credential.Name + ")"
	return c.JSON(r)
}

func (h *handlers) createKey(c *fiber.Ctx) error {
	var req NewKey
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	k, raw, err := h.svc.CreateKey(c.UserContext(), httpapi.Principal(c), req)
	if err != nil {
		return err
	}
	// A replay of this create answers the key without its secret: the raw
	// key is shown once and never stored, not even for replays.
	idempotency.ReplayAs(c, newKeyResponse(k))
	return c.Status(fiber.StatusCreated).JSON(keyCreated{keyResponse: newKeyResponse(k), APIKey: raw})
}

func (h *handlers) listKeys(c *fiber.Ctx) error {
	return httpapi.List(c, func(after string, limit int) ([]APIKey, string, error) {
		return h.svc.ListKeys(c.UserContext(), httpapi.Principal(c), after, limit)
	}, newKeyResponse)
}

func (h *handlers) revokeKey(c *fiber.Ctx) error {
	k, err := h.svc.RevokeKey(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(newKeyResponse(k))
}

type userResponse struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Permissions []string  `json:"permissions"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at"`
}

func newUserResponse(u User) userResponse {
	return userResponse{ID: u.ID, Email: u.Email, Name: u.Name, Permissions: u.Permissions,
		Active: u.DeactivatedAt.IsZero(), CreatedAt: u.CreatedAt}
}

func (h *handlers) listUsers(c *fiber.Ctx) error {
	return httpapi.List(c, func(after string, limit int) ([]User, string, error) {
		return h.svc.Users(c.UserContext(), httpapi.Principal(c), after, limit)
	}, newUserResponse)
}

func (h *handlers) createUser(c *fiber.Ctx) error {
	var req NewUser
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	u, err := h.svc.CreateUser(c.UserContext(), httpapi.Principal(c), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newUserResponse(u))
}

func (h *handlers) updateUser(c *fiber.Ctx) error {
	var req UserPatch
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	u, err := h.svc.UpdateUser(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"), req)
	if err != nil {
		return err
	}
	return c.JSON(newUserResponse(u))
}

func (h *handlers) changePassword(c *fiber.Ctx) error {
	var req PasswordChange
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := h.svc.ChangePassword(c.UserContext(), httpapi.Principal(c), req); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
