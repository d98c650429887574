package connections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/kube"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// Options tune the manager.
type Options struct {
	// Box seals and opens credentials (required).
	Box *secrets.Box
	// CheckInterval is how often connected and disconnected clusters are checked
	// (default 30 s).
	CheckInterval time.Duration
	// Agents is what deploying agents needs from the server: its broker credentials.
	Agents AgentDefaults
	// OnCheck, if set, counts health checks by connection kind and result.
	OnCheck func(kind string, ok bool)
	Logger  *slog.Logger
}

// Manager keeps the connections: adds them from kubeconfigs, checks their health, moves
// them through the state machine and removes them with everything stored about them.
type Manager struct {
	st  *store.Store
	opt Options
	log *slog.Logger
}

// New makes a manager.
func New(st *store.Store, opt Options) *Manager {
	if opt.CheckInterval <= 0 {
		opt.CheckInterval = 30 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Manager{st: st, opt: opt, log: opt.Logger}
}

// View is a connection as the API shows it; never its credential.
type View = apitypes.Cluster

func view(c *store.Connection, nodes []store.ClusterNode) *View {
	v := &View{ID: c.ID, Name: c.Name, Kind: c.Kind, State: c.State, ClusterUID: c.ClusterUID, Server: c.Server,
		Version: c.Version, NodeCount: c.NodeCount, LastCheck: c.LastCheck, LastError: c.LastError,
		StateChangedAt: c.StateChangedAt, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt}
	for _, n := range nodes {
		v.Nodes = append(v.Nodes, apitypes.ClusterNode{Name: n.Name, InstanceType: n.InstanceType, Cores: n.Cores, MemoryMB: n.MemoryMB,
			KubeletVersion: n.KubeletVersion, Ready: n.Ready})
	}
	return v
}

// AddResult is what became of one context.
type AddResult = apitypes.AddClusterResult

// Failed is the outcome of a context that could not be added.
const Failed = "failed"

// Add makes a connection of each named context of a kubeconfig (all when none are
// named). Each context is probed for its cluster's identity; contexts reaching a cluster
// already known are duplicates. Every context gets its own outcome: one unreachable
// cluster fails only its own part. A kubeconfig that does not parse is an error naming
// its fields, and nothing is stored.
func (m *Manager) Add(ctx context.Context, kubeconfig []byte, contexts []string, discoverOnly bool, actor string) ([]AddResult, error) {
	parsed, err := kube.ParseKubeconfig(kubeconfig, contexts)
	if err != nil {
		return nil, err
	}
	// Probe every cluster at once, then store in the kubeconfig's order, so which of two
	// contexts of one cluster becomes its connection does not depend on timing.
	out := make([]AddResult, len(parsed))
	infos := make([]*kube.ClusterInfo, len(parsed))
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallel)
	for i, c := range parsed {
		out[i] = AddResult{Context: c.Name, Outcome: Failed}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rc, err := kube.RESTConfig(c.Kubeconfig)
			if err == nil {
				infos[i], err = kube.Probe(ctx, rc)
			}
			if err != nil {
				out[i].Error = fmt.Sprintf("cannot reach %s: %v", c.Server, err)
			}
		}()
	}
	wg.Wait()
	for i, c := range parsed {
		if infos[i] != nil {
			out[i] = m.store(ctx, c, infos[i], discoverOnly, actor)
		}
	}
	return out, nil
}

func (m *Manager) store(ctx context.Context, c kube.Context, info *kube.ClusterInfo, discoverOnly bool, actor string) AddResult {
	res := AddResult{Context: c.Name, Outcome: Failed}
	state := Connected
	if discoverOnly {
		state = Discovered
	}
	now := time.Now().UTC()
	row := &store.Connection{ID: uuid.NewString(), Kind: store.ConnKubernetes, Name: c.Name, State: string(state),
		ClusterUID: info.UID, Server: c.Server, Version: info.Version, NodeCount: len(info.Nodes), LastCheck: &now,
		StateChangedAt: now, CreatedBy: actor}
	saved, outcome, err := m.st.AddConnection(ctx, row, storeNodes(info.Nodes), func(id string) []byte {
		return m.opt.Box.Seal(c.Kubeconfig, []byte(id))
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		res.Error = fmt.Sprintf("a connection named %s already exists for another cluster; rename the context", c.Name)
		return res
	case err != nil:
		res.Error = err.Error()
		return res
	}
	res.Outcome = outcome
	if outcome == store.ConnDuplicate {
		res.DuplicateOf = saved.Name
	} else {
		m.st.AddEvent(ctx, actor, "connection."+outcome, saved.Name, "cluster "+info.UID)
		m.log.Info("cluster connection "+outcome, "name", saved.Name, "cluster_uid", info.UID, "version", info.Version, "nodes", len(info.Nodes))
	}
	res.Connection = view(saved, nil)
	return res
}

func storeNodes(nodes []kube.Node) []store.ClusterNode {
	out := make([]store.ClusterNode, len(nodes))
	for i, n := range nodes {
		out[i] = store.ClusterNode{Name: n.Name, InstanceType: n.InstanceType, KubeletVersion: n.KubeletVersion,
			Cores: n.Cores, MemoryMB: n.MemoryMB, Ready: n.Ready}
	}
	return out
}

// List returns every cluster connection (ListKind lists the others).
func (m *Manager) List(ctx context.Context) ([]*View, error) {
	return m.ListKind(ctx, KindKubernetes)
}

// Get returns one connection by id or name, with its nodes.
func (m *Manager) Get(ctx context.Context, ref string) (*View, error) {
	c, err := m.st.GetConnection(ctx, ref)
	if err != nil {
		return nil, err
	}
	nodes, err := m.st.ClusterNodes(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	return view(c, nodes), nil
}

// RESTConfig opens a connection's sealed credential.
func (m *Manager) RESTConfig(c *store.Connection) (*rest.Config, error) {
	kc, err := m.opt.Box.Open(c.Credential, []byte(c.ID))
	if err != nil {
		return nil, fmt.Errorf("connection %s: %w", c.Name, err)
	}
	return kube.RESTConfig(kc)
}

// Clientset is a client for a connection's cluster.
func (m *Manager) Clientset(c *store.Connection) (kubernetes.Interface, *rest.Config, error) {
	rc, err := m.RESTConfig(c)
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	return cs, rc, err
}

// Check probes a connection now and records what it found. Connected and disconnected
// connections move between those two states by the result; others keep their state.
func (m *Manager) Check(ctx context.Context, ref string) (*View, error) {
	c, err := m.st.GetConnection(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := m.check(ctx, c); err != nil {
		return nil, err
	}
	return m.Get(ctx, c.ID)
}

// probe checks a connection's cluster, and that it is still the same cluster.
func (m *Manager) probe(ctx context.Context, c *store.Connection) (*kube.ClusterInfo, error) {
	rc, err := m.RESTConfig(c)
	if err != nil {
		return nil, err
	}
	info, err := kube.Probe(ctx, rc)
	if err != nil {
		return nil, err
	}
	if info.UID != c.ClusterUID {
		return nil, fmt.Errorf("the context now reaches another cluster (kube-system uid %s, was %s)", info.UID, c.ClusterUID)
	}
	return info, nil
}

func (m *Manager) check(ctx context.Context, c *store.Connection) error {
	version, nodes, perr := m.probeConnection(ctx, c)
	from := State(c.State)
	o := store.CheckOutcome{At: time.Now().UTC(), FromState: c.State, ToState: string(afterCheck(from, perr == nil))}
	if perr != nil {
		o.Error = perr.Error()
	} else {
		o.Version, o.Nodes = version, nodes
	}
	if m.opt.OnCheck != nil {
		m.opt.OnCheck(c.Kind, perr == nil)
	}
	if err := m.st.RecordCheck(ctx, c.ID, o); err != nil {
		return err
	}
	if o.ToState != o.FromState {
		m.log.Warn("cluster connection state changed by its health check", "name", c.Name, "from", o.FromState, "to", o.ToState, "error", o.Error)
		m.st.AddEvent(ctx, "health-check", "connection."+o.ToState, c.Name, o.Error)
	}
	return nil
}

// maxParallel bounds how many clusters are probed or deployed to at once.
const maxParallel = 16

// Run checks connected and disconnected clusters at once (states may be stale after a
// restart), then every CheckInterval until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	m.CheckAll(ctx)
	t := time.NewTicker(m.opt.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.CheckAll(ctx)
		}
	}
}

// CheckAll checks every connection whose state is checked, a few at a time.
func (m *Manager) CheckAll(ctx context.Context) {
	cs, err := m.st.ListConnections(ctx)
	if err != nil {
		m.log.Warn("listing connections for health checks", "error", err)
		return
	}
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i := range cs {
		if !State(cs[i].State).Checked() {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(c *store.Connection) {
			defer func() { <-sem; wg.Done() }()
			if err := m.check(ctx, c); err != nil && ctx.Err() == nil {
				m.log.Warn("recording a health check", "name", c.Name, "error", err)
			}
		}(&cs[i])
	}
	wg.Wait()
}

// SetState moves a connection to another state as a person asks. Becoming connected
// checks the cluster first: if it does not answer the connection becomes disconnected
// where the state machine allows, and the move is refused where it does not. Becoming
// deleted removes the connection (see Remove).
func (m *Manager) SetState(ctx context.Context, ref string, to State, actor string) (*View, error) {
	c, err := m.st.GetConnection(ctx, ref)
	if err != nil {
		return nil, err
	}
	from := State(c.State)
	if !CanTransition(from, to) {
		return nil, &TransitionError{From: from, To: to}
	}
	if to == Deleted {
		if _, err := m.Remove(ctx, c.ID, actor); err != nil {
			return nil, err
		}
		v := view(c, nil)
		v.State = string(Deleted)
		return v, nil
	}
	if to == Connected {
		version, nodes, perr := m.probeConnection(ctx, c)
		o := store.CheckOutcome{At: time.Now().UTC(), FromState: c.State, ToState: string(Connected)}
		if perr != nil {
			if !CanTransition(from, Disconnected) {
				return nil, &UnreachableError{Name: c.Name, Err: perr}
			}
			o.Error, o.ToState = perr.Error(), string(Disconnected)
		} else {
			o.Version, o.Nodes = version, nodes
		}
		if err := m.st.RecordCheck(ctx, c.ID, o); err != nil {
			return nil, err
		}
		m.st.AddEvent(ctx, actor, "connection."+o.ToState, c.Name, o.Error)
		return m.Get(ctx, c.ID)
	}
	if err := m.st.SetConnectionState(ctx, c.ID, c.State, string(to)); err != nil {
		if errors.Is(err, store.ErrStale) {
			return nil, fmt.Errorf("%s changed state meanwhile; look again: %w", c.Name, store.ErrConflict)
		}
		return nil, err
	}
	m.st.AddEvent(ctx, actor, "connection."+string(to), c.Name, "from "+c.State)
	return m.Get(ctx, c.ID)
}

// Remove deletes a connection: it becomes deleted, then everything stored about its
// cluster (connection, credential, nodes, agent deployment records) is flushed in one
// transaction. Nothing in the cluster itself is touched (agent undeploy does that).
func (m *Manager) Remove(ctx context.Context, ref, actor string) (store.Flushed, error) {
	c, err := m.st.GetConnection(ctx, ref)
	if err != nil {
		return store.Flushed{}, err
	}
	if c.State != string(Deleted) {
		if err := m.st.SetConnectionState(ctx, c.ID, c.State, string(Deleted)); err != nil && !errors.Is(err, store.ErrStale) {
			return store.Flushed{}, err
		}
	}
	f, err := m.st.DeleteConnection(ctx, c.ID)
	if err != nil {
		return f, err
	}
	m.st.AddEvent(ctx, actor, "connection.deleted", c.Name, fmt.Sprintf("flushed %d nodes, %d agent deployments, %d discovered objects", f.Nodes, f.AgentDeployments, f.InventoryObjects))
	m.log.Info("cluster connection removed", "name", c.Name, "cluster_uid", c.ClusterUID)
	return f, nil
}

// UnreachableError is a cluster that did not answer when it had to.
type UnreachableError struct {
	Name string
	Err  error
}

func (e *UnreachableError) Error() string { return fmt.Sprintf("cannot connect %s: %v", e.Name, e.Err) }
func (e *UnreachableError) Unwrap() error { return e.Err }

// NotUsableError says a connection exists but its state keeps it from use.
type NotUsableError struct {
	Name  string
	State State
}

func (e *NotUsableError) Error() string {
	return fmt.Sprintf("cluster %s is %s; only a connected cluster can be used", e.Name, e.State)
}

// Usable returns a connection that runs and deployments may use.
func (m *Manager) Usable(ctx context.Context, ref string) (*store.Connection, error) {
	c, err := m.st.GetConnection(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no cluster connection %q: %w", ref, err)
	}
	if err != nil {
		return nil, err
	}
	if c.Kind != KindKubernetes {
		return nil, fmt.Errorf("%s is a %s connection, not a cluster: %w", c.Name, c.Kind, store.ErrNotFound)
	}
	if !State(c.State).Usable() {
		return nil, &NotUsableError{Name: c.Name, State: State(c.State)}
	}
	return c, nil
}

// Environment is the SMP environment of a connected cluster for a run starting now: a
// fresh check, or the last inventory if the API server does not answer (the run's
// target may well, and the nodes rarely change within minutes).
func (m *Manager) Environment(ctx context.Context, ref string) (*smp.KubernetesEnv, error) {
	c, err := m.Usable(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := m.check(ctx, c); err != nil {
		m.log.Warn("checking the run's cluster", "name", c.Name, "error", err)
	}
	if c, err = m.st.GetConnection(ctx, c.ID); err != nil {
		return nil, err
	}
	nodes, err := m.st.ClusterNodes(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	kn := make([]kube.Node, len(nodes))
	for i, n := range nodes {
		kn[i] = kube.Node{Name: n.Name, InstanceType: n.InstanceType, Cores: n.Cores, MemoryMB: n.MemoryMB,
			KubeletVersion: n.KubeletVersion, Ready: n.Ready}
	}
	sort.Slice(kn, func(i, j int) bool { return kn[i].Name < kn[j].Name })
	return kube.Environment(c.Name, c.ClusterUID, c.Version, kn), nil
}

// ClusterConfig is a REST config for a cluster, by its UID, through its usable
// connection (for readers that know clusters by identity, such as fingerprints).
func (m *Manager) ClusterConfig(ctx context.Context, clusterUID string) (*rest.Config, error) {
	cs, err := m.st.ListConnections(ctx)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if c := &cs[i]; c.ClusterUID == clusterUID && State(c.State).Usable() {
			return m.RESTConfig(c)
		}
	}
	return nil, fmt.Errorf("no usable connection to cluster %s: %w", clusterUID, store.ErrNotFound)
}
