// Package broker gives the server its NATS: an in-process NATS server with JetStream
// (the embedded default: loopback, authenticated, stored under the data directory), or
// a connection to an external NATS cluster. It creates the streams distributed runs
// and MeshSync use and hands out the server's own connection.
package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
)

// Config says which broker to use.
type Config struct {
	// ExternalURL connects to an existing NATS (with JetStream) instead of embedding
	// one; credentials go in the URL (nats://user:pass@host:4222).
	ExternalURL string
	// Addr is where the embedded server listens for agents ("127.0.0.1:4223").
	Addr string
	// StoreDir keeps the embedded JetStream data.
	StoreDir string
	// Credentials checks each agent's own credential on the embedded server (nil: no
	// agent can connect).
	Credentials *Credentials
	// LeafAddr, when set, is where the embedded server accepts leaf node
	// connections from clusters' in-cluster brokers (operator mode: the cluster dials
	// out, "0.0.0.0:7422"). Each leaf proves its cluster with the cluster's MeshSync
	// credential and may carry only that cluster's MeshSync subjects.
	LeafAddr string
	// Stream is the intervals stream's name (default RUNS) and Subjects its subjects
	// (default meshperf.v1.runs.*.intervals.*); tests on a shared NATS change both.
	Stream   string
	Subjects []string
	// StreamMaxBytes bounds the stream (default bus.RunsMaxBytes).
	StreamMaxBytes int64
}

// Broker is a running broker and the server's connection to it.
type Broker struct {
	ns     *server.Server // nil when external
	NC     *nats.Conn
	JS     jetstream.JetStream
	Stream jetstream.Stream
	// URL is where agents connect (the embedded listener, or the external URL).
	URL string
	// LeafURL is where in-cluster brokers connect as leaf nodes (nats-leaf://host:port;
	// empty without Config.LeafAddr).
	LeafURL string

	closed chan struct{} // closed when the server's connection is gone for good
}

// Done is closed when the server's connection to the broker is closed for good (the
// server's other subsystems cannot work without it).
func (b *Broker) Done() <-chan struct{} { return b.closed }

// Start starts (or connects to) the broker and makes sure the streams exist.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	if cfg.Stream == "" {
		cfg.Stream = bus.RunsStream
	}
	if len(cfg.Subjects) == 0 {
		cfg.Subjects = bus.RunsSubjects()
	}
	if cfg.StreamMaxBytes == 0 {
		cfg.StreamMaxBytes = bus.RunsMaxBytes
	}
	b := &Broker{closed: make(chan struct{})}
	onClosed := nats.ClosedHandler(func(*nats.Conn) { close(b.closed) })
	var err error
	if cfg.ExternalURL != "" {
		b.URL = cfg.ExternalURL
		b.NC, err = nats.Connect(cfg.ExternalURL, nats.Name("meshperf-server"), nats.MaxReconnects(-1), onClosed)
		if err != nil {
			return nil, fmt.Errorf("connecting to NATS at %s: %w", redact(cfg.ExternalURL), err)
		}
	} else if err := b.embed(cfg, onClosed); err != nil {
		return nil, err
	}
	if b.JS, err = jetstream.New(b.NC); err != nil {
		b.Close()
		return nil, err
	}
	b.Stream, err = b.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     cfg.Stream,
		Subjects: cfg.Subjects,
		Storage:  jetstream.FileStorage,
		// Bounded every way, oldest first: junk published by an agent (or by anyone
		// on an external NATS) cannot fill the disk, and one subject (one agent's
		// intervals of one run) cannot take the whole stream.
		MaxAge:            bus.RunsMaxAge,
		MaxBytes:          cfg.StreamMaxBytes,
		MaxMsgSize:        bus.RunsMaxMsgSize,
		MaxMsgsPerSubject: bus.RunsMaxMsgsPerSubject,
		Discard:           jetstream.DiscardOld,
		// An agent that re-publishes an interval after a lost ack sends the same
		// message id: JetStream stores it once.
		Duplicates: bus.RunsDuplicateWindow,
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("creating the %s stream (is JetStream enabled?): %w", cfg.Stream, err)
	}
	// MeshSync's discovery events wait here while the server is down.
	if _, err := b.JS.CreateOrUpdateStream(ctx, bus.MeshSyncStreamConfig()); err != nil {
		b.Close()
		return nil, fmt.Errorf("creating the %s stream: %w", bus.MeshSyncStream, err)
	}
	return b, nil
}

func (b *Broker) embed(cfg Config, onClosed nats.Option) error {
	host, portS, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("--nats-addr %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return fmt.Errorf("--nats-addr %q: bad port", cfg.Addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT // nats-server reads 0 as its default port, 4222
	}
	internal := randomSecret()
	opts := &server.Options{
		ServerName: "meshperf-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: 1 << 20,
		// Each agent proves its own name with its credential and may then only
		// announce itself, publish its own intervals and read its own assignments
		// and inboxes (bus.AgentPermissions): a leaked credential cannot read other
		// agents' assignments, speak as another agent or reach JetStream's API.
		CustomClientAuthentication: &authenticator{internalUser: serverUser, internalPassword: internal, creds: cfg.Credentials},
	}
	if cfg.LeafAddr != "" {
		lh, lp, err := splitAddr("--nats-leaf-addr", cfg.LeafAddr)
		if err != nil {
			return err
		}
		// No leaf users here: leaf connections go through the same custom
		// authentication as clients (authenticator.Check, kind LEAF).
		opts.LeafNode = server.LeafNodeOpts{Host: lh, Port: lp}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return fmt.Errorf("embedded NATS did not start on %s", cfg.Addr)
	}
	b.ns = ns
	if cfg.LeafAddr != "" {
		// nats-server writes a random port it chose back into the options before it
		// reports ready.
		b.LeafURL = "nats-leaf://" + net.JoinHostPort(leafHost(opts.LeafNode.Host), strconv.Itoa(opts.LeafNode.Port))
	}
	addr := ns.Addr().String()
	b.URL = "nats://" + addr
	b.NC, err = nats.Connect(b.URL, nats.UserInfo(serverUser, internal), nats.Name("meshperf-server"), onClosed)
	if err != nil {
		ns.Shutdown()
		return fmt.Errorf("connecting to the embedded NATS: %w", err)
	}
	return nil
}

// Close drains the server's connection and stops an embedded server.
func (b *Broker) Close() {
	if b.NC != nil {
		_ = b.NC.Drain()
		b.NC.Close()
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
}

func splitAddr(flag, addr string) (string, int, error) {
	host, portS, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%s %q: %w", flag, addr, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%s %q: bad port", flag, addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

func leafHost(h string) string {
	if h == "" || h == "0.0.0.0" || h == "::" {
		return "127.0.0.1"
	}
	return h
}

// serverUser is the server's own connection to the embedded broker.
const serverUser = "meshperf-server"

func randomSecret() string {
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(buf)
}

// redact hides a password in a URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
