package accounts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/auth"
	"github.com/hookline/hookline/app/ids"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/validate"
)

// NewUser is the input to CreateUser.
type NewUser struct {
	Name        string   `json:"name" validate:"required,max=200"`
	Email       string   `json:"email" validate:"required,email,max=254"`
	Password    string   `json:"password" validate:"required,min=8,max=72"`
	Permissions []string `json:"permissions" validate:"max=20,dive,required"`
}

// UserPatch is the input to UpdateUser; nil fields stay as they are.
type UserPatch struct {
	Permissions []string `json:"permissions" validate:"omitempty,max=20,dive,required"`
	Active      *bool    `json:"active"`
}

// PasswordChange is the input to ChangePassword.
type PasswordChange struct {
	Current string `json:"current_password" validate:"required,max=72"`
	New     string `json:"new_password" validate:"required,min=8,max=72"`
}

// checkPerms validates a permission list and returns it sorted and deduplicated.
func checkPerms(ps []string) ([]string, error) {
	for i, p := range ps {
		if !perm.Known(p) {
			return nil, apperr.InvalidField(fmt.Sprintf("permissions[%d]", i),
				fmt.Sprintf("%q is not a permission; known: %s", p, strings.Join(perm.All, ", ")))
		}
	}
	return perm.NewSet(ps...).List(), nil
}

// grantable refuses a permission list holding one the caller lacks, unless
// the user already holds it (keeping is not granting). The error is a 403
// naming the permission.
func grantable(p auth.Principal, want, already []string) error {
	for _, x := range want {
		if !p.Has(x) && !slices.Contains(already, x) {
			e := apperr.Forbidden(x)
			e.Message = fmt.Sprintf("a user cannot be granted %q: the caller does not hold it", x)
			return e
		}
	}
	return nil
}

// Users lists the account's users, newest first. The caller needs manage:account.
func (s *Service) Users(ctx context.Context, p auth.Principal, after string, limit int) ([]User, string, error) {
	if err := p.Require(perm.ManageAccount); err != nil {
		return nil, "", err
	}
	return s.st.listUsers(ctx, p.AccountID, after, limit)
}

// CreateUser adds a user to the caller's account, active, holding the given
// permissions. The caller needs manage:account and can grant only
// permissions it holds; a login email already in use is a 422 on email.
func (s *Service) CreateUser(ctx context.Context, p auth.Principal, in NewUser) (User, error) {
	if err := p.Require(perm.ManageAccount); err != nil {
		return User{}, err
	}
	in.Name, in.Email = strings.TrimSpace(in.Name), strings.TrimSpace(in.Email)
	if err := validate.Struct(&in); err != nil {
		return User{}, err
	}
	perms, err := checkPerms(in.Permissions)
	if err != nil {
		return User{}, err
	}
	if err := grantable(p, perms, nil); err != nil {
		return User{}, err
	}
	pw, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.opts.BcryptCost)
	if err != nil {
		return User{}, fmt.Errorf("accounts: hash password: %w", err)
	}
	now := s.now()
	u := User{ID: ids.New(ids.User, now), AccountID: p.AccountID, Email: in.Email, Name: in.Name,
		Permissions: perms, CreatedAt: now}
	if err := s.st.addUser(ctx, u, string(pw)); err != nil {
		return User{}, err
	}
	return u, nil
}

// UpdateUser sets a user's permissions and whether it is active. The caller
// needs manage:account, can grant only permissions it holds, and cannot
// deactivate itself. A change bites on the user's next request, with any
// credential: principals are built from the user as read at that moment.
func (s *Service) UpdateUser(ctx context.Context, p auth.Principal, id string, in UserPatch) (User, error) {
	if err := p.Require(perm.ManageAccount); err != nil {
		return User{}, err
	}
	if !ids.HasPrefix(id, ids.User) {
		return User{}, apperr.NotFound("user")
	}
	if err := validate.Struct(&in); err != nil {
		return User{}, err
	}
	u, err := s.st.user(ctx, p.AccountID, id)
	if err != nil {
		return User{}, err
	}
	if in.Permissions != nil {
		perms, err := checkPerms(in.Permissions)
		if err != nil {
			return User{}, err
		}
		if err := grantable(p, perms, u.Permissions); err != nil {
			return User{}, err
		}
		u.Permissions = perms
	}
	if in.Active != nil {
		if !*in.Active && id == p.UserID {
			return User{}, apperr.InvalidField("active", "you cannot deactivate yourself")
		}
		switch {
		case *in.Active:
			u.DeactivatedAt = time.Time{}
		case u.DeactivatedAt.IsZero():
			u.DeactivatedAt = s.now()
		}
	}
	if err := s.st.updateUser(ctx, u); err != nil {
		return User{}, err
	}
	return u, nil
}

// ChangePassword sets the caller's own password after checking the current
// one; a wrong current password is a 422 on current_password.
func (s *Service) ChangePassword(ctx context.Context, p auth.Principal, in PasswordChange) error {
	if err := validate.Struct(&in); err != nil {
		return err
	}
	hash, err := s.st.passwordHash(ctx, p.AccountID, p.UserID)
	if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(in.Current)) != nil {
		return apperr.InvalidField("current_password", "is not your current password")
	}
	pw, err := bcrypt.GenerateFromPassword([]byte(in.New), s.opts.BcryptCost)
	if err != nil {
		return fmt.Errorf("accounts: hash password: %w", err)
	}
	return s.st.setPassword(ctx, p.AccountID, p.UserID, string(pw))
}
