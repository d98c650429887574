// Package auth holds the server's identities: roles, tokens and the principal of a
// request. Tokens are random, shown once, and stored only as hashes (see store).
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
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

// NewToken returns a fresh token, mpt_<id>_<secret>: a random non-secret id (128
// bits, hex) by which the server finds the token, and a 256-bit secret.
func NewToken() string {
	b := make([]byte, 16+32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the platform is broken; nothing is safe
	}
	return TokenPrefix + hex.EncodeToString(b[:16]) + "_" + base64.RawURLEncoding.EncodeToString(b[16:])
}

// TokenID is the id of a token NewToken made; false for other tokens (issued before
// ids, or chosen by an operator).
func TokenID(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 32 || len(secret) < 43 {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", false
	}
	return id, true
}

// MinTokenBits is the entropy an operator-chosen token must carry at least.
const MinTokenBits = 128

// CheckStrength refuses an operator-chosen token too weak to stand in for a generated
// one: its estimated entropy (length times the bits of the character classes it
// uses, for a token of at least 10 distinct characters) must reach MinTokenBits.
func CheckStrength(token string) error {
	if !utf8.ValidString(token) || strings.ContainsFunc(token, unicode.IsSpace) {
		return fmt.Errorf("the token must be printable, without spaces")
	}
	distinct := map[rune]bool{}
	var lower, upper, digit, other bool
	for _, r := range token {
		distinct[r] = true
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			other = true
		}
	}
	alphabet := 0
	for _, c := range []struct {
		used bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 32}} {
		if c.used {
			alphabet += c.size
		}
	}
	bits := float64(utf8.RuneCountInString(token)) * math.Log2(float64(max(alphabet, 2)))
	if len(distinct) < 10 || bits < MinTokenBits {
		return fmt.Errorf("the token is too weak (about %.0f bits, %d distinct characters); use at least %d bits of randomness, e.g. `openssl rand -hex 32`", bits, len(distinct), MinTokenBits)
	}
	return nil
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
