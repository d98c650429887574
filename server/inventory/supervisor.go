package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/meshsync"
	"github.com/meshperf/meshperf/server/store"
)

// SupervisorOptions configure the embedded MeshSyncs.
type SupervisorOptions struct {
	Store *store.Store
	NC    *nats.Conn
	// RESTConfig opens a connection's credential.
	RESTConfig func(*store.Connection) (*rest.Config, error)
	// DefaultMode is the mode of connections that set none (meshsync.ModeEmbedded
	// unless the server says otherwise).
	DefaultMode string
	// Every is how often connections are re-read (default 5 s).
	Every   time.Duration
	Version string
	Logger  *slog.Logger
	// Run is meshsync.Run (tests replace it to watch starts and stops).
	Run func(context.Context, meshsync.Options) error
	// Operator installs the in-cluster operator for connections in operator mode and
	// removes it from those in embedded mode (nil: operator mode only stops the
	// server's own discovery, as with --disable-operator).
	Operator OperatorInstaller
}

// OperatorInstaller puts the operator into a connection's cluster and takes it out
// (server/operatordeploy).
type OperatorInstaller interface {
	// Key changes when an installed operator must be applied again.
	Key(*store.Connection) string
	Install(context.Context, *store.Connection) error
	Remove(context.Context, *store.Connection) error
	Status(context.Context, *store.Connection) *apitypes.OperatorStatus
}

// operatorTimeout bounds one install or removal.
var operatorTimeout = 90 * time.Second

// Supervisor runs MeshSync inside the server for every connected cluster whose mode is
// embedded, starting and stopping them as connections come, go and change state,
// mode or scope.
type Supervisor struct {
	opt  SupervisorOptions
	log  *slog.Logger
	poke chan struct{}

	mu      sync.Mutex
	runners map[string]*runner // by connection id

	// Operator installs by connection id: the key applied, "" once removal was
	// verified, the last failure.
	opMu      sync.Mutex
	installed map[string]string
	opErr     map[string]string
}

// runner is one embedded MeshSync.
type runner struct {
	Connection  string
	ClusterUID  string
	State       string // running, backing_off
	StartedAt   time.Time
	Restarts    int
	LastError   string
	LastErrorAt *time.Time

	key    string
	cancel context.CancelFunc
	done   chan struct{}
}

// NewSupervisor makes a supervisor; Run runs it.
func NewSupervisor(opt SupervisorOptions) *Supervisor {
	if opt.DefaultMode == "" {
		opt.DefaultMode = meshsync.ModeEmbedded
	}
	if opt.Every <= 0 {
		opt.Every = 5 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Run == nil {
		opt.Run = meshsync.Run
	}
	return &Supervisor{opt: opt, log: opt.Logger, poke: make(chan struct{}, 1), runners: map[string]*runner{},
		installed: map[string]string{}, opErr: map[string]string{}}
}

// Poke re-reads the connections now (after a change made through the API).
func (s *Supervisor) Poke() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// ModeOf is a connection's discovery mode, the server's default when it sets none.
func (s *Supervisor) ModeOf(c *store.Connection) string {
	if c.MeshSyncMode != "" {
		return c.MeshSyncMode
	}
	return s.opt.DefaultMode
}

// Run supervises until ctx ends, then stops every embedded MeshSync.
func (s *Supervisor) Run(ctx context.Context) error {
	t := time.NewTicker(s.opt.Every)
	defer t.Stop()
	defer s.stopAll()
	for {
		s.reconcile(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.poke:
		}
	}
}

// Embedded returns the embedded MeshSync of a cluster (nil if none runs).
func (s *Supervisor) Embedded(cluster string) *apitypes.EmbeddedMeshSync {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runners {
		if r.ClusterUID == cluster {
			return &apitypes.EmbeddedMeshSync{State: r.State, StartedAt: r.StartedAt, Restarts: r.Restarts,
				LastError: r.LastError, LastErrorAt: r.LastErrorAt}
		}
	}
	return nil
}

func (s *Supervisor) reconcile(ctx context.Context) {
	conns, err := s.opt.Store.ListConnections(ctx)
	if err != nil {
		s.log.Warn("reading connections for MeshSync", "err", err)
		return
	}
	want := map[string]*store.Connection{}
	for i := range conns {
		c := &conns[i]
		if c.State == "connected" && s.ModeOf(c) == meshsync.ModeEmbedded {
			want[c.ID] = c
		}
	}
	s.reconcileOperators(ctx, conns)
	// Runners stop outside the lock: a runner takes it to record its failure.
	var stop []*runner
	s.mu.Lock()
	for id, r := range s.runners {
		if c, ok := want[id]; !ok || runnerKey(c) != r.key {
			stop = append(stop, r)
			delete(s.runners, id)
		}
	}
	s.mu.Unlock()
	for _, r := range stop {
		r.cancel()
		<-r.done
		s.log.Info("embedded MeshSync stopped", "connection", r.Connection)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range want {
		if _, ok := s.runners[id]; ok {
			continue
		}
		if err := s.start(ctx, c); err != nil {
			s.log.Warn("cannot start MeshSync", "connection", c.Name, "err", err)
		}
	}
}

// runnerKey changes when a running MeshSync must restart: another scope or credential.
func runnerKey(c *store.Connection) string {
	return fmt.Sprintf("%s|%s|%x", c.ClusterUID, c.MeshSyncScope, c.Credential)
}

// ParseScope reads a connection's stored scope.
func ParseScope(s string) (meshsync.Scope, error) {
	var sc meshsync.Scope
	if s == "" {
		return sc, nil
	}
	err := json.Unmarshal([]byte(s), &sc)
	return sc, err
}

func (s *Supervisor) start(ctx context.Context, c *store.Connection) error {
	rc, err := s.opt.RESTConfig(c)
	if err != nil {
		return err
	}
	scope, err := ParseScope(c.MeshSyncScope)
	if err != nil {
		return fmt.Errorf("scope: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &runner{Connection: c.Name, ClusterUID: c.ClusterUID, State: "running", StartedAt: time.Now().UTC(),
		key: runnerKey(c), cancel: cancel, done: make(chan struct{})}
	s.runners[c.ID] = r
	opt := meshsync.Options{Cluster: c.ClusterUID, Config: rc, NC: s.opt.NC, Mode: meshsync.ModeEmbedded, Scope: scope,
		Version: s.opt.Version, Logger: s.log.With("meshsync", c.Name)}
	go func() {
		defer close(r.done)
		for attempt := 0; ; attempt++ {
			err := s.opt.Run(rctx, opt)
			if rctx.Err() != nil {
				return
			}
			now := time.Now().UTC()
			s.mu.Lock()
			r.State, r.Restarts, r.LastErrorAt = "backing_off", r.Restarts+1, &now
			r.LastError = fmt.Sprint(err)
			s.mu.Unlock()
			s.log.Warn("embedded MeshSync stopped; restarting", "connection", c.Name, "err", err)
			select {
			case <-time.After(min(time.Minute, time.Second<<min(attempt, 6))):
			case <-rctx.Done():
				return
			}
			s.mu.Lock()
			r.State = "running"
			s.mu.Unlock()
		}
	}()
	s.log.Info("embedded MeshSync started", "connection", c.Name, "cluster_uid", c.ClusterUID)
	return nil
}

func (s *Supervisor) stopAll() {
	s.mu.Lock()
	all := s.runners
	s.runners = map[string]*runner{}
	s.mu.Unlock()
	for _, r := range all {
		r.cancel()
		<-r.done
	}
}

// reconcileOperators installs the operator into connected clusters in operator mode
// and makes sure none is left in those in embedded mode (checked once per server
// start, then after each switch). A failure is recorded and retried next round.
func (s *Supervisor) reconcileOperators(ctx context.Context, conns []store.Connection) {
	if s.opt.Operator == nil {
		return
	}
	for i := range conns {
		c := &conns[i]
		if c.State != "connected" {
			continue
		}
		s.opMu.Lock()
		have, known := s.installed[c.ID]
		s.opMu.Unlock()
		var err error
		var now string
		switch mode := s.ModeOf(c); {
		case mode == meshsync.ModeOperator:
			key := s.opt.Operator.Key(c)
			if have == key {
				continue
			}
			octx, cancel := context.WithTimeout(ctx, operatorTimeout)
			err = s.opt.Operator.Install(octx, c)
			cancel()
			now = key
			if err == nil {
				s.log.Info("operator installed", "connection", c.Name)
			}
		case known && have == "":
			continue // removal verified
		default:
			octx, cancel := context.WithTimeout(ctx, operatorTimeout)
			err = s.opt.Operator.Remove(octx, c)
			cancel()
			if err == nil && have != "" {
				s.log.Info("operator removed", "connection", c.Name)
			}
		}
		s.opMu.Lock()
		if err != nil {
			s.opErr[c.ID] = err.Error()
			s.log.Warn("operator", "connection", c.Name, "err", err)
		} else {
			delete(s.opErr, c.ID)
			s.installed[c.ID] = now
		}
		s.opMu.Unlock()
	}
}

// OperatorStatus is a connection's operator as its cluster reports it, with the
// server's last install attempt (nil without an installer).
func (s *Supervisor) OperatorStatus(ctx context.Context, c *store.Connection) *apitypes.OperatorStatus {
	if s.opt.Operator == nil {
		return nil
	}
	st := s.opt.Operator.Status(ctx, c)
	s.opMu.Lock()
	defer s.opMu.Unlock()
	switch have, ok := s.installed[c.ID]; {
	case s.opErr[c.ID] != "":
		st.Install = "failed: " + s.opErr[c.ID]
	case ok && have != "":
		st.Install = "installed"
	case ok:
		st.Install = "removed"
	default:
		st.Install = "pending"
	}
	return st
}

// RemoveOperator takes the operator out of c's cluster now (the connection is about
// to be deleted).
func (s *Supervisor) RemoveOperator(ctx context.Context, c *store.Connection) error {
	if s.opt.Operator == nil {
		return nil
	}
	octx, cancel := context.WithTimeout(ctx, operatorTimeout)
	defer cancel()
	err := s.opt.Operator.Remove(octx, c)
	if err == nil {
		s.opMu.Lock()
		delete(s.installed, c.ID)
		delete(s.opErr, c.ID)
		s.opMu.Unlock()
	}
	return err
}

// OperatorEnabled says whether this server installs operators.
func (s *Supervisor) OperatorEnabled() bool { return s.opt.Operator != nil }
