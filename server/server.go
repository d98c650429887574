// Package server is the composition root of meshperf's management backend: it opens
// the store, bootstraps the first admin, starts the run manager and serves the API,
// and shuts all of it down gracefully.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/net/netutil"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/server/agents"
	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/broker"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/schedule"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/store"
)

// Config is everything `meshperf server` takes.
type Config struct {
	Addr        string // listen address
	DataDir     string // SQLite file and other state
	DatabaseURL string // postgres://... (empty: SQLite under DataDir)
	// AdminToken, when set, is the first admin's token at first start (instead of a
	// generated one printed once).
	AdminToken     string
	AnonymousRead  bool
	AllowedTargets []string
	// NATSAddr is where the embedded broker listens for agents; NATSURL uses an
	// external NATS instead. AgentToken authenticates agents (generated into the data
	// directory when empty).
	NATSAddr   string
	NATSURL    string
	AgentToken string
	// InstanceID names this server in the runs it executes (default: the host name and
	// listen address); a restarted instance recovers its interrupted runs.
	InstanceID string
	// SecretKeyFile holds the key sealing cluster credentials (default
	// DataDir/secret.key, generated on first start).
	SecretKeyFile        string
	ClusterCheckInterval time.Duration
	// AgentBrokerURL is the broker URL agents deployed into clusters use; AgentImage
	// their image.
	AgentBrokerURL string
	AgentImage     string
	Concurrency    int
	// MaxQueuedRuns and MaxQueuedRunsPerUser bound the run queue (0: the defaults,
	// runs.DefaultMaxQueued and runs.DefaultMaxQueuedPerUser).
	MaxQueuedRuns        int
	MaxQueuedRunsPerUser int
	// MaxRunConnections bounds one run's connections (0: smp.MaxRunConnections).
	MaxRunConnections int
	// HTTP bounds the API's connections (zero fields: the defaults).
	HTTP    HTTPLimits
	Version string
	Logger  *slog.Logger
	// Out receives the one-time admin token when one is generated.
	Out io.Writer
	// Ready, if set, receives the bound address once the server listens.
	Ready func(addr string)
}

// Run serves until ctx is cancelled, then shuts down gracefully.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Out == nil {
		cfg.Out = os.Stderr
	}
	policy, err := api.ParseTargetPolicy(cfg.AllowedTargets)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("store ready", "database", st.Dialect, "where", where(cfg))
	if err := bootstrapAdmin(ctx, st, cfg); err != nil {
		return err
	}
	keyFile := cfg.SecretKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.DataDir, "secret.key")
	}
	box, created, err := secrets.LoadOrCreate(keyFile)
	if err != nil {
		return err
	}
	if created {
		log.Info("generated the secret key that seals cluster credentials; back it up, and give every replica the same one", "file", keyFile)
	}
	bcfg := broker.Config{ExternalURL: cfg.NATSURL, Addr: cfg.NATSAddr, StoreDir: filepath.Join(cfg.DataDir, "nats")}
	if cfg.NATSURL == "" {
		if bcfg.AgentToken, err = agentToken(cfg, log); err != nil {
			return err
		}
	}
	brk, err := broker.Start(ctx, bcfg)
	if err != nil {
		return err
	}
	defer brk.Close()
	log.Info("broker ready", "agents_connect_to", brk.URL, "embedded", cfg.NATSURL == "")
	reg, err := agents.Listen(brk.NC, log)
	if err != nil {
		return fmt.Errorf("listening for agents: %w", err)
	}
	defer reg.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if cfg.InstanceID == "" {
		host, _ := os.Hostname()
		cfg.InstanceID = host + "@" + ln.Addr().String()
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	conns := connections.New(st, connections.Options{Box: box, CheckInterval: cfg.ClusterCheckInterval, Logger: log,
		Agents: connections.AgentDefaults{BrokerEndpoint: cfg.AgentBrokerURL, BrokerUser: bus.AgentUser, AgentToken: bcfg.AgentToken, Image: cfg.AgentImage}})
	ropt := runs.Options{Owner: cfg.InstanceID, Concurrency: cfg.Concurrency, Version: cfg.Version, Logger: log,
		Distributed: &agents.Distributor{Registry: reg, NC: brk.NC, Stream: brk.Stream, Version: cfg.Version, Logger: log},
		Clusters:    conns, MaxQueued: cfg.MaxQueuedRuns, MaxQueuedPerUser: cfg.MaxQueuedRunsPerUser}
	if policy != nil {
		ropt.Targets = policy
	}
	mgr := runs.New(st, ropt)
	if err := mgr.Start(workCtx); err != nil {
		stopWork()
		ln.Close()
		return err
	}
	sched := schedule.New(st, mgr, cfg.InstanceID, log)
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); sched.Run(workCtx) }()
	checksDone := make(chan struct{})
	go func() { defer close(checksDone); conns.Run(workCtx) }()
	a := api.New(st, mgr, api.Options{AnonymousRead: cfg.AnonymousRead, Targets: policy, Logger: log, Agents: reg, Clusters: conns,
		MaxRunConnections: cfg.MaxRunConnections})
	srv := newHTTPServer(a.Handler(), cfg.HTTP)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(limitListener(ln, cfg.HTTP)) }()
	log.Info("meshperf server listening", "addr", ln.Addr().String(), "instance", cfg.InstanceID, "anonymous_read", cfg.AnonymousRead)
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		stopWork()
		<-schedDone
		<-checksDone
		return err
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx) // stops new requests; open event streams end with the runs
	stopWork()                  // running runs stop; their intervals are stored and the next start recovers them
	mgr.Wait()
	<-schedDone
	<-checksDone
	if errors.Is(err, context.DeadlineExceeded) {
		_ = srv.Close()
	}
	return nil
}

// HTTPLimits keep slow or idle clients from holding the API's connections forever.
type HTTPLimits struct {
	// ReadTimeout bounds reading a whole request, body included (a trickled body).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response; event streams lift it for themselves.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections left idle.
	IdleTimeout time.Duration
	// MaxConns caps the connections open at once; more wait to be accepted.
	MaxConns int
}

// Defaults of HTTPLimits.
const (
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 2 * time.Minute
	DefaultIdleTimeout  = 60 * time.Second
	DefaultMaxConns     = 1024
)

func (l HTTPLimits) withDefaults() HTTPLimits {
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	return l
}

func newHTTPServer(h http.Handler, l HTTPLimits) *http.Server {
	l = l.withDefaults()
	return &http.Server{Handler: h, ReadHeaderTimeout: min(10*time.Second, l.ReadTimeout), ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout}
}

func limitListener(ln net.Listener, l HTTPLimits) net.Listener {
	return netutil.LimitListener(ln, l.withDefaults().MaxConns)
}

func where(cfg Config) string {
	if cfg.DatabaseURL != "" {
		return "external database"
	}
	return filepath.Join(cfg.DataDir, "meshperf.db")
}

// agentToken is the configured agent token, or the one kept in the data directory
// (generated there, mode 0600, on first start). It is never logged.
func agentToken(cfg Config, log *slog.Logger) (string, error) {
	if t := strings.TrimSpace(cfg.AgentToken); t != "" {
		return t, nil
	}
	path := filepath.Join(cfg.DataDir, "agent.token")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", err
	}
	t := auth.NewToken()
	if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("saving the agent token: %w", err)
	}
	log.Info("generated the agent token", "file", path)
	return t, nil
}

// bootstrapAdmin creates the first admin on an empty database, with the configured
// token or a generated one printed once (never logged).
func bootstrapAdmin(ctx context.Context, st *store.Store, cfg Config) error {
	n, err := st.CountUsers(ctx)
	if err != nil {
		return fmt.Errorf("counting users: %w", err)
	}
	if n > 0 {
		return nil
	}
	token, generated := strings.TrimSpace(cfg.AdminToken), false
	if token == "" {
		token, generated = auth.NewToken(), true
	} else if err := auth.CheckStrength(token); err != nil {
		return fmt.Errorf("MESHPERF_ADMIN_TOKEN (or --admin-token-file): %w", err)
	}
	if _, err := st.CreateUserWithToken(ctx, "admin", string(auth.Admin), token); err != nil {
		return fmt.Errorf("creating the admin: %w", err)
	}
	if generated {
		fmt.Fprintf(cfg.Out, "\nCreated user admin. Its API token, shown only this once:\n\n    %s\n\n"+
			"Log in with: meshperf login --server http://%s --token <token>\n\n", token, cfg.Addr)
	}
	return nil
}
