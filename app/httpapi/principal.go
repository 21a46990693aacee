package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/auth"
)

// SetPrincipal stores the caller for the handlers after it, where
// Principal reads it. Surfaces that authenticate their own credential (the
// dashboard's session) call it once the principal is built.
func SetPrincipal(c *fiber.Ctx, p auth.Principal) { c.Locals(localPrincipal, p) }
