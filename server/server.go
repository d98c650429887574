// Package server is the composition root of meshperf's management backend: it opens
// the store, bootstraps the first admin, and runs its subsystems (API, broker, agent
// registry, run manager, scheduler, connection checks) as one group that stops
// together and gracefully.
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

	"github.com/oklog/run"
	"golang.org/x/net/netutil"

	"github.com/meshperf/meshperf/internal/selfmetrics"
	"github.com/meshperf/meshperf/meshsync"
	"github.com/meshperf/meshperf/server/adapters"
	"github.com/meshperf/meshperf/server/agents"
	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/broker"
	"github.com/meshperf/meshperf/server/conformance"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/inventory"
	"github.com/meshperf/meshperf/server/meshes"
	"github.com/meshperf/meshperf/server/operatordeploy"
	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/schedule"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/web"
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
	// external NATS instead.
	NATSAddr string
	NATSURL  string
	// NATSLeafAddr, when set, is where the embedded broker accepts clusters' in-cluster
	// brokers dialing out as leaf nodes (operator mode; no inbound port into a cluster).
	NATSLeafAddr string
	// AgentToken is the former shared agent token: set, it is refused with the way
	// to per-agent credentials.
	AgentToken string
	// AgentKeyFile holds the key agents' credentials are issued under (default
	// DataDir/agent-credentials.key, generated on first start; replicas share it).
	AgentKeyFile string
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
	// MeshSyncMode is how connections that set none are discovered: embedded (the
	// default: MeshSync runs in this server) or operator (in the cluster).
	MeshSyncMode string
	// DisableOperator forbids operator mode: the server never installs the operator
	// and refuses connections' switch to it.
	DisableOperator bool
	// OperatorImage is the image of the operator and its broker and MeshSync
	// (default AgentImage, which must then be the full build, not the generator
	// build agents run); OperatorBrokerURL the server's leaf listener as clusters
	// reach it (default the --nats-leaf-addr listener's URL); OperatorNamespace where
	// it is installed (default meshperf-system).
	OperatorImage     string
	OperatorBrokerURL string
	OperatorNamespace string
	Concurrency       int
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
	// Subsystems run in the server's group beside its own (MeshSync, adapters,
	// metrics...): each runs until its context ends; one returning stops the server.
	Subsystems []Subsystem
}

// Subsystem is one more part of the server's run group.
type Subsystem struct {
	Name string
	// Run works until ctx ends; returning earlier (error or not) stops the server,
	// and an error is what the server's Run returns.
	Run func(ctx context.Context) error
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
	switch cfg.MeshSyncMode {
	case "", meshsync.ModeEmbedded, meshsync.ModeOperator:
	default:
		return fmt.Errorf("--meshsync-mode %q: want %s or %s", cfg.MeshSyncMode, meshsync.ModeEmbedded, meshsync.ModeOperator)
	}
	if cfg.DisableOperator && cfg.MeshSyncMode == meshsync.ModeOperator {
		return errors.New("--meshsync-mode operator and --disable-operator contradict each other")
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
	if cfg.AgentToken != "" {
		return errors.New("the shared agent token (--agent-token-file) is no longer accepted: " +
			"every agent now proves its own name with its own credential; issue them with `meshperf agent credential create NAME` " +
			"(or redeploy agents into clusters, which issues theirs) and remove the shared token")
	}
	if cfg.NATSLeafAddr != "" && cfg.NATSURL != "" {
		return errors.New("--nats-leaf-addr is the embedded broker's leaf listener: with --nats-url, configure leaf nodes on that NATS")
	}
	bcfg := broker.Config{ExternalURL: cfg.NATSURL, Addr: cfg.NATSAddr, LeafAddr: cfg.NATSLeafAddr, StoreDir: filepath.Join(cfg.DataDir, "nats")}
	var creds *broker.Credentials
	if cfg.NATSURL == "" {
		if creds, err = agentCredentials(cfg, log); err != nil {
			return err
		}
		bcfg.Credentials = creds
	}
	brk, err := broker.Start(ctx, bcfg)
	if err != nil {
		return err
	}
	defer brk.Close() // after every subsystem has stopped: runs cancel their agents on the way out
	log.Info("broker ready", "agents_connect_to", brk.URL, "leaf_nodes_connect_to", brk.LeafURL, "embedded", cfg.NATSURL == "")
	reg, err := agents.Listen(brk.NC, agents.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("listening for agents: %w", err)
	}
	defer reg.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if cfg.InstanceID == "" {
		host, _ := os.Hostname()
		cfg.InstanceID = host + "@" + ln.Addr().String()
	}
	metricsReg, sm := serverMetrics(st, log)
	agentDefaults := connections.AgentDefaults{BrokerEndpoint: cfg.AgentBrokerURL, Image: cfg.AgentImage}
	if creds != nil {
		// Each cluster's agents share one credential for the names under the cluster's
		// prefix (cluster:pod), so replicas come and go without the server's help.
		agentDefaults.Credential = func(cluster string) (string, error) { return creds.Issue(cluster, true) }
	}
	conns := connections.New(st, connections.Options{Box: box, CheckInterval: cfg.ClusterCheckInterval, Logger: log, Agents: agentDefaults,
		OnCheck: sm.ConnectionCheck})
	// Runs outlive the request that started them: their context ends only when the
	// group stops, not with ctx's values or deadline.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	// MeshSync: the inventory consumes every cluster's discovery events; the
	// supervisor runs discovery in this server for connections in embedded mode.
	inv := inventory.New(inventory.Options{Store: st, NC: brk.NC, JS: brk.JS, Logger: log})
	selfmetrics.RegisterMeshSync(metricsReg, inv.Metrics())
	sopt := inventory.SupervisorOptions{Store: st, NC: brk.NC, RESTConfig: conns.RESTConfig,
		DefaultMode: cfg.MeshSyncMode, Version: cfg.Version, Logger: log}
	if !cfg.DisableOperator && creds != nil {
		leaf := cfg.OperatorBrokerURL
		if leaf == "" {
			leaf = brk.LeafURL
		}
		image := cfg.OperatorImage
		if image == "" {
			image = cfg.AgentImage
		}
		sopt.Operator = &operatordeploy.Installer{RESTConfig: conns.RESTConfig, Issue: creds.IssueMeshSync, Image: image,
			LeafURL: leaf, Namespace: cfg.OperatorNamespace}
	}
	discovery := inventory.NewSupervisor(sopt)
	// Fingerprints read the inventory, and list the cluster live until its discovery
	// has completed a snapshot.
	meshSvc := meshes.New(conns, meshes.Fallback{Primary: inv, Secondary: &meshes.LiveSource{Clusters: conns}}, log)
	// Conformance runs sign their reports with the server's key, sealed by box.
	confSvc, err := conformance.New(ctx, st, conns, meshSvc, box, log)
	if err != nil {
		return err
	}
	defer confSvc.Close()
	ropt := runs.Options{Owner: cfg.InstanceID, Concurrency: cfg.Concurrency, Version: cfg.Version, Logger: log,
		Distributed: &agents.Distributor{Registry: reg, NC: brk.NC, Stream: brk.Stream, Version: cfg.Version, Logger: log},
		Clusters:    meshSvc, MaxQueued: cfg.MaxQueuedRuns, MaxQueuedPerUser: cfg.MaxQueuedRunsPerUser}
	ropt.Metrics = runMetrics(conns)
	ropt.Distributed.(*agents.Distributor).OnIntervalLag = sm.ObserveBrokerLag
	if policy != nil {
		ropt.Targets = policy
	}
	mgr := runs.New(st, ropt)
	if err := mgr.Start(workCtx); err != nil {
		return err
	}
	sched := schedule.New(st, mgr, cfg.InstanceID, log)
	sched.OnFiring = sm.Firing
	var issue func(string, bool) (string, error)
	var issueMeshSync func(string) (string, error)
	if creds != nil {
		issue, issueMeshSync = creds.Issue, creds.IssueMeshSync
	}
	// Mesh adapters: the registry, health checks, and operations sent with the
	// kubeconfigs of the selected (usable) cluster connections.
	adapterSvc := adapters.New(workCtx, st, conns.Kubeconfig, adapters.Options{Logger: log,
		KeepReport: func(ctx context.Context, op, cluster string, report []byte, actor string) error {
			_, err := confSvc.Keep(ctx, op, cluster, report, actor)
			return err
		}})
	a := api.New(st, mgr, api.Options{Adapters: adapterSvc, AnonymousRead: cfg.AnonymousRead, Targets: policy, Logger: log, Agents: reg, Clusters: conns, Meshes: meshSvc,
		IssueAgentCredential: issue, IssueMeshSyncCredential: issueMeshSync, MaxRunConnections: cfg.MaxRunConnections, Metrics: sm, MetricsHandler: selfmetrics.Handler(metricsReg),
		Grafana: grafanaConnections{conns}, Inventory: inv, Discovery: discovery, DisableOperator: cfg.DisableOperator, Conformance: confSvc})
	srv := newHTTPServer(web.Mount(a.Handler()), cfg.HTTP)

	// The subsystems run as one group (the shape of Prometheus's cmd/prometheus): the
	// first to stop, for whatever reason, stops all the others, and the group returns
	// once every one has. A new subsystem is one more actor.
	var g run.Group
	{ // The caller's context: a signal or a test ending the server.
		stop := make(chan struct{})
		g.Add(func() error {
			select {
			case <-ctx.Done():
			case <-stop:
			}
			return nil
		}, func(error) { close(stop) })
	}
	{ // The HTTP API. Shutting down stops new requests at once; open event streams end
		// with the runs, which the run manager's actor stops next.
		shutDone := make(chan struct{})
		g.Add(func() error {
			if err := srv.Serve(limitListener(ln, cfg.HTTP)); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serving the API: %w", err)
			}
			<-shutDone
			return nil
		}, func(error) {
			go func() {
				defer close(shutDone)
				shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := srv.Shutdown(shutCtx); errors.Is(err, context.DeadlineExceeded) {
					_ = srv.Close()
				}
			}()
		})
	}
	{ // The run manager: running runs stop; their intervals are stored and the next
		// start recovers them.
		g.Add(func() error {
			<-workCtx.Done()
			mgr.Wait()
			return nil
		}, func(error) { stopWork() })
	}
	addLoop(&g, workCtx, func(ctx context.Context) error { sched.Run(ctx); return nil })
	addLoop(&g, workCtx, func(ctx context.Context) error { conns.Run(ctx); return nil })
	addLoop(&g, workCtx, reg.Run)
	addLoop(&g, workCtx, inv.Run)
	addLoop(&g, workCtx, func(ctx context.Context) error { return discovery.Run(ctx) })
	// Fingerprints now and then, so a Prometheus or Grafana MeshSync finds is offered
	// as a discovered connection without anyone asking.
	addLoop(&g, workCtx, meshSvc.Watch)
	addLoop(&g, workCtx, adapterSvc.Run)
	for _, sub := range cfg.Subsystems {
		addLoop(&g, workCtx, func(ctx context.Context) error {
			if err := sub.Run(ctx); err != nil {
				return fmt.Errorf("%s: %w", sub.Name, err)
			}
			if ctx.Err() == nil {
				return fmt.Errorf("%s stopped", sub.Name)
			}
			return nil
		})
	}
	{ // The broker: losing it for good stops the server (nothing distributed works).
		stop := make(chan struct{})
		g.Add(func() error {
			select {
			case <-brk.Done():
				return errors.New("the connection to the broker closed")
			case <-stop:
				return nil
			}
		}, func(error) { close(stop) })
	}
	log.Info("meshperf server listening", "addr", ln.Addr().String(), "instance", cfg.InstanceID, "anonymous_read", cfg.AnonymousRead)
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String())
	}
	err = g.Run()
	log.Info("stopped", "cause", errOrSignal(err))
	return err
}

// addLoop adds a subsystem that runs until its context ends.
func addLoop(g *run.Group, parent context.Context, loop func(context.Context) error) {
	ctx, cancel := context.WithCancel(parent)
	g.Add(func() error { return loop(ctx) }, func(error) { cancel() })
}

func errOrSignal(err error) string {
	if err == nil {
		return "asked to stop"
	}
	return err.Error()
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

// agentCredentials loads the key that agents' credentials are issued under (generated
// into the data directory, mode 0600, on first start; replicas share the file). It
// is never logged.
func agentCredentials(cfg Config, log *slog.Logger) (*broker.Credentials, error) {
	path := cfg.AgentKeyFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "agent-credentials.key")
	}
	creds, created, err := broker.LoadOrCreateCredentials(path)
	if err != nil {
		return nil, fmt.Errorf("the agent credential key: %w", err)
	}
	if created {
		log.Info("generated the key agents' credentials are issued under; replicas share it, and replacing it revokes every credential", "file", path)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "agent.token")); err == nil {
		log.Warn("the shared agent token in the data directory is no longer used: agents need their own credentials (meshperf agent credential create NAME)",
			"file", filepath.Join(cfg.DataDir, "agent.token"))
	}
	return creds, nil
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
