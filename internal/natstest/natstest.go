// Package natstest starts real NATS servers for tests, the way NATS's own tests do: on
// loopback and a random port, with a bounded wait for readiness, stopped with the test.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Start starts a server with opts (loopback, a random port, no logs and no signal
// handlers; with JetStream on, its store in a temporary directory) and shuts it down
// when the test ends.
func Start(t testing.TB, opts server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", server.RANDOM_PORT, true, true
	if opts.JetStream && opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	ns, err := server.NewServer(&opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not start in 10 s")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// JetStream starts a server with opts and JetStream on, and returns it with a
// connection to it (closed when the test ends) and that connection's JetStream.
func JetStream(t testing.TB, opts server.Options) (*server.Server, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	opts.JetStream = true
	ns := Start(t, opts)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return ns, nc, js
}
