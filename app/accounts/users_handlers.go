package accounts

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/httpapi"
)

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
