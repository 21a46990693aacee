package web

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/session"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/inbound"
)

// ---- API keys

type keysView struct {
	Keys   []accounts.APIKey
	Next   string
	Perms  []permOpt
	Raw    string // a new key, shown once
	Errors map[string]string
	Name   string
}

type permOpt struct {
	Name string
	Held bool
}

func permOpts(c *fiber.Ctx) []permOpt {
	p := httpapi.Principal(c)
	out := make([]permOpt, len(perm.All))
	for i, x := range perm.All {
		out[i] = permOpt{Name: x, Held: p.Has(x)}
	}
	return out
}

func (d *Dashboard) showKeys(c *fiber.Ctx, status int, v keysView) error {
	_, after, err := httpapi.ListParams(c)
	if err != nil {
		return err
	}
	ks, next, err := d.deps.Accounts.ListKeys(c.UserContext(), httpapi.Principal(c), after, httpapi.DefaultLimit)
	if err != nil {
		return err
	}
	v.Keys, v.Next, v.Perms = ks, cursor(next), permOpts(c)
	return d.renderStatus(c, status, "keys", "API keys", v)
}

func (d *Dashboard) keys(c *fiber.Ctx) error { return d.showKeys(c, fiber.StatusOK, keysView{}) }

func formList(c *fiber.Ctx, name string) []string {
	var out []string
	for _, v := range c.Request().PostArgs().PeekMulti(name) {
		out = append(out, string(v))
	}
	return out
}

func (d *Dashboard) createKey(c *fiber.Ctx) error {
	in := accounts.NewKey{Name: c.FormValue("name"), Permissions: formList(c, "permissions")}
	_, raw, err := d.deps.Accounts.CreateKey(c.UserContext(), httpapi.Principal(c), in)
	if err != nil {
		errs, err := formErrors(err)
		if err != nil {
			return err
		}
		return d.showKeys(c, fiber.StatusUnprocessableEntity, keysView{Errors: errs, Name: in.Name})
	}
	return d.showKeys(c, fiber.StatusCreated, keysView{Raw: raw})
}

func (d *Dashboard) revokeKey(c *fiber.Ctx) error {
	if _, err := d.deps.Accounts.RevokeKey(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id")); err != nil {
		return err
	}
	return c.Redirect("/keys", fiber.StatusSeeOther)
}

// ---- incidents

type incidentsView struct {
	Incidents []inbound.Incident
	Next      string
}

func (d *Dashboard) incidents(c *fiber.Ctx) error {
	_, after, err := httpapi.ListParams(c)
	if err != nil {
		return err
	}
	is, next, err := d.deps.Inbound.Incidents(c.UserContext(), httpapi.Principal(c), after, httpapi.DefaultLimit)
	if err != nil {
		return err
	}
	return d.render(c, "incidents", "Incidents", incidentsView{Incidents: is, Next: cursor(next)})
}

func (d *Dashboard) resolveIncident(c *fiber.Ctx) error {
	if _, err := d.deps.Inbound.Resolve(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id")); err != nil {
		return err
	}
	return c.Redirect("/incidents", fiber.StatusSeeOther)
}

// ---- users

type usersView struct {
	Users  []accounts.User
	Next   string
	Perms  []permOpt
	Errors map[string]string
	Name   string
	Email  string
	Self   string
}

func (d *Dashboard) showUsers(c *fiber.Ctx, status int, v usersView) error {
	_, after, err := httpapi.ListParams(c)
	if err != nil {
		return err
	}
	us, next, err := d.deps.Accounts.Users(c.UserContext(), httpapi.Principal(c), after, httpapi.DefaultLimit)
	if err != nil {
		return err
	}
	v.Users, v.Next, v.Perms, v.Self = us, cursor(next), permOpts(c), httpapi.Principal(c).UserID
	return d.renderStatus(c, status, "users", "Users", v)
}

func (d *Dashboard) users(c *fiber.Ctx) error { return d.showUsers(c, fiber.StatusOK, usersView{}) }

func (d *Dashboard) createUser(c *fiber.Ctx) error {
	in := accounts.NewUser{Name: c.FormValue("name"), Email: c.FormValue("email"), Password: c.FormValue("password"),
		Permissions: formList(c, "permissions")}
	if _, err := d.deps.Accounts.CreateUser(c.UserContext(), httpapi.Principal(c), in); err != nil {
		errs, err := formErrors(err)
		if err != nil {
			return err
		}
		return d.showUsers(c, fiber.StatusUnprocessableEntity, usersView{Errors: errs, Name: in.Name, Email: in.Email})
	}
	return c.Redirect("/users", fiber.StatusSeeOther)
}

// updateUser saves one user's permissions and active flag.
func (d *Dashboard) updateUser(c *fiber.Ctx) error {
	active := c.FormValue("active") == "true"
	perms := formList(c, "permissions")
	if perms == nil {
		perms = []string{}
	}
	patch := accounts.UserPatch{Permissions: perms, Active: &active}
	if _, err := d.deps.Accounts.UpdateUser(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"), patch); err != nil {
		return err
	}
	return c.Redirect("/users", fiber.StatusSeeOther)
}

// ---- the signed-in user's account

type accountView struct {
	Errors map[string]string
	Notice string
}

func (d *Dashboard) account(c *fiber.Ctx) error {
	return d.render(c, "account", "Account", accountView{})
}

func (d *Dashboard) changePassword(c *fiber.Ctx) error {
	in := accounts.PasswordChange{Current: c.FormValue("current_password"), New: c.FormValue("new_password")}
	if err := d.deps.Accounts.ChangePassword(c.UserContext(), httpapi.Principal(c), in); err != nil {
		errs, err := formErrors(err)
		if err != nil {
			return err
		}
		return d.renderStatus(c, fiber.StatusUnprocessableEntity, "account", "Account", accountView{Errors: errs})
	}
	n, err := d.endOthers(c)
	if err != nil {
		return err
	}
	return d.render(c, "account", "Account", accountView{Notice: fmt.Sprintf("Password changed. %d other session(s) signed out.", n)})
}

func (d *Dashboard) endOtherSessions(c *fiber.Ctx) error {
	n, err := d.endOthers(c)
	if err != nil {
		return err
	}
	return d.render(c, "account", "Account", accountView{Notice: fmt.Sprintf("%d other session(s) signed out.", n)})
}

// endOthers ends every other session of the signed-in user and revokes
// each one's credential, as signing out does, so what revocation hooks do
// (turning off webhooks made in that session) happens for them too.
func (d *Dashboard) endOthers(c *fiber.Ctx) (int, error) {
	p, ctx := httpapi.Principal(c), c.UserContext()
	sess, _ := c.Locals(sessionLocal).(*session.Session)
	sids, err := d.st.endOthers(ctx, p.AccountID, p.UserID, sess.ID())
	for _, sid := range sids {
		d.deps.Accounts.Revoked(ctx, p.AccountID, auth.Credential{Kind: auth.KindSession, ID: sid})
	}
	return len(sids), err
}
