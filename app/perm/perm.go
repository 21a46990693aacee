// Package perm names Hookline's permissions and holds a set type for them.
package perm

import (
	"slices"
	"strings"
)

// The permissions DESIGN.md defines.
const (
	SubscribeWebhook = "subscribe:webhook" // create and manage one's own subscriptions
	ManageWebhook    = "manage:webhook"    // all of the account's webhooks and their logs
	ReadCustomer     = "read:customer"
	CreateCustomer   = "create:customer"
	UpdateCustomer   = "update:customer"
	DeleteCustomer   = "delete:customer"
	PublishEvent     = "publish:event"
	ManageKeys       = "manage:keys"
	ManageAccount    = "manage:account"
)

// All lists every permission, in a stable order. An account owner holds all.
var All = []string{
	SubscribeWebhook, ManageWebhook,
	ReadCustomer, CreateCustomer, UpdateCustomer, DeleteCustomer,
	PublishEvent, ManageKeys, ManageAccount,
}

// Known reports whether p is a permission Hookline defines.
func Known(p string) bool { return slices.Contains(All, p) }

// Set is an immutable set of permissions.
type Set struct{ m map[string]struct{} }

// NewSet builds a Set from a list; empty strings are ignored.
func NewSet(ps ...string) Set {
	m := make(map[string]struct{}, len(ps))
	for _, p := range ps {
		if p != "" {
			m[p] = struct{}{}
		}
	}
	return Set{m: m}
}

// Parse builds a Set from a comma-separated list.
func Parse(s string) Set {
	if s == "" {
		return NewSet()
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return NewSet(parts...)
}

// Has reports whether p is in the set.
func (s Set) Has(p string) bool { _, ok := s.m[p]; return ok }

// List returns the permissions sorted.
func (s Set) List() []string {
	out := make([]string, 0, len(s.m))
	for p := range s.m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// String is the comma-separated sorted list, the stored form.
func (s Set) String() string { return strings.Join(s.List(), ",") }

// Intersect returns the permissions held by both.
func (s Set) Intersect(o Set) Set {
	m := make(map[string]struct{})
	for p := range s.m {
		if o.Has(p) {
			m[p] = struct{}{}
		}
	}
	return Set{m: m}
}

// Missing returns the first permission of want (in sorted order) that s lacks, or "".
func (s Set) Missing(want Set) string {
	for _, p := range want.List() {
		if !s.Has(p) {
			return p
		}
	}
	return ""
}
