package api

import (
	"errors"
	"fmt"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

func (a *API) whoami(w http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	if p == nil {
		writeJSON(w, http.StatusOK, apitypes.User{Name: "anonymous", Role: string(auth.Viewer)})
		return
	}
	writeJSON(w, http.StatusOK, apitypes.User{ID: p.UserID, Name: p.Name, Role: string(p.Role)})
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := a.st.ListUsers(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := make([]apitypes.User, len(us))
	for i, u := range us {
		out[i] = apitypes.User{ID: u.ID, Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

type createUserBody struct {
	Name string `yaml:"name" json:"name"`
	Role string `yaml:"role" json:"role"`
}

// createUser makes a user and its first token, which is shown only in this answer.
func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var b createUserBody
	if !a.readBody(w, r, &b) {
		return
	}
	var errs smp.FieldErrors
	if err := validUserName(b.Name); err != nil {
		errs.Add("name", 0, "%v", err)
	}
	if _, err := auth.ParseRole(b.Role); err != nil {
		errs.Add("role", 0, "%v", err)
	}
	if len(errs) > 0 {
		badInput(w, r, errs, "")
		return
	}
	token := auth.NewToken()
	u, tok, err := a.st.CreateUserWithFirstToken(r.Context(), b.Name, b.Role, token)
	if errors.Is(err, store.ErrConflict) {
		writeError(w, r, http.StatusConflict, "conflict", "a user named "+b.Name+" exists", nil)
		return
	}
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), "user.create", u.Name, b.Role)
	writeJSON(w, http.StatusCreated, map[string]any{
		"user":  apitypes.User{ID: u.ID, Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt},
		"token": token, "token_id": tok.ID, "note": "the token is shown once; store it now",
	})
}

// maxTokenName bounds a token's name (the column holds 128).
const maxTokenName = 128

// validUserName keeps user names unambiguous in lists, logs and the audit trail:
// lowercase only (so "ADMIN" cannot stand beside "admin"), no spaces, no control
// characters.
func validUserName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("must be 1 to 64 characters")
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '-' || c == '_' || c == '@')
		if !ok {
			return fmt.Errorf("%q: use lowercase letters, digits and '.', '-', '_', '@' (not first)", name)
		}
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

type createTokenBody struct {
	Name string `yaml:"name" json:"name"`
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	if p == nil {
		writeError(w, r, http.StatusUnauthorized, "unauthorized", "an anonymous reader has no tokens", nil)
		return
	}
	var b createTokenBody
	if !a.readBody(w, r, &b) {
		return
	}
	if len(b.Name) > maxTokenName || !printable(b.Name) {
		badInput(w, r, smp.FieldErrors{{Path: "name", Msg: fmt.Sprintf("must be at most %d printable characters", maxTokenName)}}, "")
		return
	}
	token := auth.NewToken()
	t, err := a.st.AddToken(r.Context(), p.UserID, b.Name, token)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), p.Name, "token.create", t.ID, b.Name)
	writeJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "name": t.Name, "token": token, "note": "the token is shown once; store it now"})
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	if p == nil {
		writeError(w, r, http.StatusUnauthorized, "unauthorized", "an anonymous reader has no tokens", nil)
		return
	}
	owner := p.UserID
	if p.Role.Allows(auth.Admin) {
		owner = "" // an admin revokes anyone's token
	}
	if err := a.st.DeleteToken(r.Context(), owner, r.PathValue("id")); err != nil {
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), p.Name, "token.delete", r.PathValue("id"), "")
	w.WriteHeader(http.StatusNoContent)
}

// listTokens lists every token (?user= one user's): ids, names, owners, dates; never
// a secret or a hash.
func (a *API) listTokens(w http.ResponseWriter, r *http.Request) {
	userID := ""
	if name := r.URL.Query().Get("user"); name != "" {
		u, err := a.st.GetUser(r.Context(), name)
		if err != nil {
			a.storeError(w, r, err)
			return
		}
		userID = u.ID
	}
	ts, err := a.st.ListTokens(r.Context(), userID)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := make([]apitypes.Token, len(ts))
	for i, t := range ts {
		out[i] = apitypes.Token{ID: t.ID, Name: t.Name, UserID: t.UserID, User: t.UserName, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

// deleteUser deletes a user (by id or name) and revokes all its tokens. The last
// admin cannot be deleted: nobody could manage users any more.
func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) {
	u, err := a.st.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if u.Role == string(auth.Admin) && !a.anotherAdmin(w, r) {
		return
	}
	if err := a.st.DeleteUser(r.Context(), u.ID); err != nil {
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), "user.delete", u.Name, u.Role)
	w.WriteHeader(http.StatusNoContent)
}

type setRoleBody struct {
	Role string `yaml:"role" json:"role"`
}

// setUserRole changes a user's role; it takes effect at the user's next request.
func (a *API) setUserRole(w http.ResponseWriter, r *http.Request) {
	var b setRoleBody
	if !a.readBody(w, r, &b) {
		return
	}
	if _, err := auth.ParseRole(b.Role); err != nil {
		badInput(w, r, smp.FieldErrors{{Path: "role", Msg: err.Error()}}, "")
		return
	}
	u, err := a.st.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if u.Role == string(auth.Admin) && b.Role != string(auth.Admin) && !a.anotherAdmin(w, r) {
		return
	}
	if err := a.st.SetRole(r.Context(), u.ID, b.Role); err != nil {
		a.storeError(w, r, err)
		return
	}
	a.st.AddEvent(r.Context(), auth.Name(r.Context()), "user.role", u.Name, u.Role+" -> "+b.Role)
	writeJSON(w, http.StatusOK, apitypes.User{ID: u.ID, Name: u.Name, Role: b.Role, CreatedAt: u.CreatedAt})
}

// anotherAdmin answers 409 and returns false when the server has a single admin left.
func (a *API) anotherAdmin(w http.ResponseWriter, r *http.Request) bool {
	n, err := a.st.CountAdmins(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return false
	}
	if n <= 1 {
		writeError(w, r, http.StatusConflict, "conflict", "this is the last admin; make another admin first", nil)
		return false
	}
	return true
}
