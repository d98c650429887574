// Package auth holds the server's identities: roles, tokens and the principal of a
// request. Tokens are random, shown once, and stored only as hashes (see store).
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// Role orders what a principal may do: a viewer reads, an editor also changes and
// runs, an admin also manages users.
type Role string

const (
	Viewer Role = "viewer"
	Editor Role = "editor"
	Admin  Role = "admin"
)

var rank = map[Role]int{Viewer: 1, Editor: 2, Admin: 3}

// ParseRole accepts viewer, editor or admin.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if rank[r] == 0 {
		return "", fmt.Errorf("role %q is not one of viewer, editor, admin", s)
	}
	return r, nil
}

// Allows reports whether r may do what needs the role need.
func (r Role) Allows(need Role) bool { return rank[r] >= rank[need] && rank[r] > 0 }

// TokenPrefix marks meshperf tokens, so secret scanners can find leaked ones.
const TokenPrefix = "mpt_"

// NewToken returns a fresh random token (256 bits).
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the platform is broken; nothing is safe
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Principal is who makes a request.
type Principal struct {
	UserID string
	Name   string
	Role   Role
}

type ctxKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the request's principal, or nil for an anonymous reader.
func From(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Name is the principal's name, or "anonymous".
func Name(ctx context.Context) string {
	if p := From(ctx); p != nil {
		return p.Name
	}
	return "anonymous"
}
