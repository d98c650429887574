package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

// Issued tokens carry a non-secret id the store finds them by; nothing of the secret
// is stored beside the hash, and tokens from before the upgrade keep working.
func TestTokenIDsAndUpgrade(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		dbURL, dir := storetest.URL(t, kind)
		ids := store.MigrationIDs()
		old, err := store.OpenAt(ctx, dbURL, dir, "2026112104-connections")
		if err != nil {
			t.Fatal(err)
		}
		legacy := "mpt_LegacyToken-made-before-ids_0123456789abcdefghijklmnopqrstu"
		if _, err := old.CreateUserWithToken(ctx, "old", "viewer", legacy); err != nil {
			t.Fatal(err)
		}
		old.Close()
		s, err := store.Open(ctx, dbURL, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if applied, _ := s.AppliedMigrations(ctx); len(applied) != len(ids) {
			t.Fatalf("applied %v", applied)
		}
		if u, err := s.Authenticate(ctx, legacy); err != nil || u.Name != "old" {
			t.Fatalf("a token from before the upgrade: %v", err)
		}
		if cols, err := s.Columns(ctx, "api_tokens"); err != nil || strings.Contains(strings.Join(cols, ","), "prefix") {
			t.Fatalf("api_tokens still has a prefix column: %v %v", cols, err)
		}
		token := auth.NewToken()
		id, ok := auth.TokenID(token)
		if !ok {
			t.Fatalf("NewToken made %q without an id", token)
		}
		u, tok, err := s.CreateUserWithFirstToken(ctx, "new", "editor", token)
		if err != nil || tok.ID != id {
			t.Fatalf("first token id %q, want %q (%v)", tok.ID, id, err)
		}
		if got, err := s.Authenticate(ctx, token); err != nil || got.ID != u.ID {
			t.Fatalf("authenticate by id: %v", err)
		}
		// Right id, wrong secret.
		if _, err := s.Authenticate(ctx, token[:len(token)-4]+"AAAA"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a forged secret under a real id: %v", err)
		}
		list, err := s.ListTokens(ctx, "")
		if err != nil || len(list) != 2 {
			t.Fatalf("tokens: %+v %v", list, err)
		}
		for _, ti := range list {
			if strings.Contains(token, ti.Name) && ti.Name != "initial" {
				t.Errorf("a list shows part of a secret: %+v", ti)
			}
		}
		if err := s.DeleteToken(ctx, "", tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, token); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a revoked token still works: %v", err)
		}
	})
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	s, err := store.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(filepath.Join(dir, "meshperf.db"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("meshperf.db is %v, want 0600", fi.Mode().Perm())
	}
}

func TestOperatorTokensNeedEntropy(t *testing.T) {
	for _, weak := range []string{"0123456789abcdef", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "password-password", "mpt_admin admin admin"} {
		if err := auth.CheckStrength(weak); err == nil {
			t.Errorf("%q accepted as an admin token", weak)
		}
	}
	for _, strong := range []string{auth.NewToken(), "3f9c2a71d04be8856c1e0f7a9b2d4c6e", "mpt_cli-test-admin-token-0123456789"} {
		if err := auth.CheckStrength(strong); err != nil {
			t.Errorf("%q refused: %v", strong, err)
		}
	}
}
