package accounts

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/perm"
)

// Register adds the account routes to an authenticated router.
func (s *Service) Register(r fiber.Router, need httpapi.Need) {
	h := &handlers{svc: s}
	r.Get("/me", h.me)
	r.Post("/keys", need(perm.ManageKeys), h.createKey)
	r.Get("/keys", need(perm.ManageKeys), h.listKeys)
	r.Delete("/keys/:id", need(perm.ManageKeys), h.revokeKey)
	r.Get("/users", need(perm.ManageAccount), h.listUsers)
	r.Post("/users", need(perm.ManageAccount), h.createUser)
	r.Patch("/users/:id", need(perm.ManageAccount), h.updateUser)
	r.Post("/me/password", h.changePassword)
}
