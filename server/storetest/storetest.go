// Package storetest opens real databases for tests: a SQLite file in a temporary
// folder, and a fresh PostgreSQL database per call on the server named by
// MESHPERF_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/postgres). A
// missing PostgreSQL fails the test loudly: it is not skipped.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver gorm's postgres dialector uses

	"github.com/meshperf/meshperf/server/store"
)

// Kinds are the databases every store and API test runs against.
var Kinds = []string{"sqlite", "postgres"}

// AdminURL is the PostgreSQL server tests create their databases on.
func AdminURL() string {
	if u := os.Getenv("MESHPERF_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// URL returns a database URL of the kind, fresh for this test, dropped at cleanup.
// For SQLite it is "" with dataDir set (the server's default).
func URL(t testing.TB, kind string) (databaseURL, dataDir string) {
	t.Helper()
	dataDir = t.TempDir()
	if kind == "sqlite" {
		return "", dataDir
	}
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.Ping(); err != nil {
		t.Fatalf("PostgreSQL is required for this test and is not reachable at %s: %v (start it, or set MESHPERF_TEST_POSTGRES)", AdminURL(), err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "meshperf_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u, _ := url.Parse(AdminURL())
	u.Path = "/" + name
	return u.String(), dataDir
}

// Open opens a migrated store of the kind, closed at cleanup.
func Open(t testing.TB, kind string) *store.Store {
	t.Helper()
	dbURL, dir := URL(t, kind)
	s, err := store.Open(context.Background(), dbURL, dir)
	if err != nil {
		t.Fatalf("open %s store: %v", kind, err)
	}
	t.Cleanup(func() { s.Close() })
	urls.Store(s, dbURL)
	return s
}

// urls remembers the database URL of each store Open made, for tests that open a
// second connection to the same database (a second server).
var urls sync.Map

// URLOf returns the database URL a store from Open uses.
func URLOf(s *store.Store) string {
	v, _ := urls.Load(s)
	u, _ := v.(string)
	return u
}
