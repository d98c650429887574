package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // the driver gorm's postgres dialector uses
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/hack/internal/harness"
	"github.com/meshperf/meshperf/server/inventory"
	"github.com/meshperf/meshperf/server/store"
)

// sink is the server's side of the benchmark: server/inventory consuming the MESHSYNC
// stream into a real database, as `meshperf server` does.
type sink struct {
	kind string
	st   *store.Store
	stop context.CancelFunc
	done chan error
}

var errNoPostgres = errors.New("PostgreSQL is not reachable")

// openSink opens a fresh database of kind (a SQLite file in a temporary folder, or a
// new database on the PostgreSQL at adminURL, dropped at exit) and starts the
// inventory on it.
func openSink(kind, adminURL string, nc *nats.Conn, js jetstream.JetStream) (*sink, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "meshsyncbench-db")
	if err != nil {
		return nil, err
	}
	harness.OnExit(func() { os.RemoveAll(dir) })
	dbURL := ""
	if kind == "postgres" {
		if dbURL, err = freshPostgres(adminURL); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(ctx, dbURL, dir)
	if err != nil {
		return nil, fmt.Errorf("opening the %s store: %w", kind, err)
	}
	harness.OnExit(func() { st.Close() })
	inv := inventory.New(inventory.Options{Store: st, NC: nc, JS: js, Durable: "meshsyncbench-" + kind,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	runCtx, cancel := context.WithCancel(ctx)
	s := &sink{kind: kind, st: st, stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- inv.Run(runCtx) }()
	return s, nil
}

func freshPostgres(adminURL string) (string, error) {
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return "", fmt.Errorf("%w at %s: %v", errNoPostgres, adminURL, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "meshsyncbench_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		return "", err
	}
	harness.OnExit(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// connect makes cluster known (the inventory keeps only connections' clusters).
func (s *sink) connect(cluster string) {
	_, _, err := s.st.AddConnection(context.Background(), &store.Connection{ID: uuid.NewString(), Kind: store.ConnKubernetes,
		Name: cluster, State: "connected", ClusterUID: cluster}, nil, func(string) []byte { return []byte("unused") })
	harness.Check(err)
}

// appliedThrough waits until the inventory has committed cluster's events of boot up
// to seq (the snapshot's end marker: every object before it is stored, and rows the
// snapshot did not list are gone).
func (s *sink) appliedThrough(cluster, boot string, seq uint64, within time.Duration) error {
	for end := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		st, err := s.st.InventoryStreamOf(context.Background(), cluster)
		if err == nil && st != nil && st.Boot == boot && st.Seq >= int64(seq) {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s: the inventory had not applied the snapshot within %v (stream state %+v, %v)", cluster, within, st, err)
		}
	}
}

func (s *sink) rows(cluster string) int64 {
	n, err := s.st.CountInventory(context.Background(), cluster)
	harness.Check(err)
	return n
}

func (s *sink) close() {
	s.stop()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
	}
}
