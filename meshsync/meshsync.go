// Package meshsync is meshperf's cluster discovery: informers over a cluster's API
// resources (built-in kinds and CRDs, found through discovery) become trimmed,
// versioned events on the bus (stream MESHSYNC), with snapshot markers around full
// listings. The same code runs inside the server for each connected cluster
// (embedded mode) and as `meshperf meshsync` in the cluster (operator mode).
//
// It never imports server: it speaks only kube, bus and NATS.
package meshsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/bus"
)

// Modes of running.
const (
	ModeEmbedded = "embedded"
	ModeOperator = "operator"
)

// Scope limits what is watched, applied to the watches themselves (a kind or
// namespace out of scope is never listed or watched).
type Scope struct {
	// IncludeKinds and ExcludeKinds name kinds ("Pod") or resources with their group
	// ("deployments.apps", "virtualservices.networking.istio.io"). Empty include: all.
	IncludeKinds []string `json:"include_kinds,omitempty" yaml:"include_kinds,omitempty"`
	ExcludeKinds []string `json:"exclude_kinds,omitempty" yaml:"exclude_kinds,omitempty"`
	// IncludeNamespaces and ExcludeNamespaces limit namespaced resources. Empty
	// include: all.
	IncludeNamespaces []string `json:"include_namespaces,omitempty" yaml:"include_namespaces,omitempty"`
	ExcludeNamespaces []string `json:"exclude_namespaces,omitempty" yaml:"exclude_namespaces,omitempty"`
	// FullKinds are kinds kept whole (trimmed) beyond the defaults; every other kind
	// travels as metadata only.
	FullKinds []string `json:"full_kinds,omitempty" yaml:"full_kinds,omitempty"`
}

// Options configure one cluster's discovery.
type Options struct {
	// Cluster is the cluster's ID (its kube-system namespace's UID); empty: found by
	// reading kube-system.
	Cluster string
	Config  *rest.Config
	// NC publishes events (JetStream, stream MESHSYNC, which must exist) and hears
	// the cluster's control subject.
	NC    *nats.Conn
	Mode  string // ModeEmbedded or ModeOperator (reported in status events)
	Scope Scope
	// Version is meshperf's version, reported in status events.
	Version string
	Logger  *slog.Logger
}

// Timings (variables so tests can shorten them).
var (
	// StatusEvery is how often a status event goes out when nothing changes.
	StatusEvery = 15 * time.Second
	// initialSyncWait bounds the wait for every resource's first listing before the
	// start snapshot; a resource listed later gets a snapshot of its own.
	initialSyncWait = 2 * time.Minute
)

// ClusterID is a cluster's ID: the UID of its kube-system namespace.
func ClusterID(ctx context.Context, cfg *rest.Config) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading namespace kube-system for the cluster's ID: %w", err)
	}
	return string(ns.UID), nil
}

// discoverer is one Run.
type discoverer struct {
	opt  Options
	ctx  context.Context
	log  *slog.Logger
	pub  *publisher
	dyn  dynamic.Interface
	meta metadata.Interface

	mu          sync.Mutex
	watchers    map[string]*watcher // by resource key
	crdKeys     map[string]string   // CRD name -> resource key watched
	initialDone bool
	lastErr     string
	lastErrAt   time.Time
	started     time.Time

	snapshots chan snapshotRequest
	statusDue chan struct{}
	snapN     int
}

// snapshotRequest asks for a snapshot of keys (nil: every synced resource), or an
// empty one of gone (resources no longer watched).
type snapshotRequest struct {
	keys   []string
	gone   []string
	reason string
}

// Run discovers the cluster until ctx ends: a snapshot first, then events as the
// cluster changes, a new snapshot on request and after a lost watch.
func Run(ctx context.Context, opt Options) error {
	if opt.Config == nil || opt.NC == nil {
		return errors.New("meshsync: a cluster config and a NATS connection are required")
	}
	if err := opt.Scope.Check(); err != nil {
		return err
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Mode == "" {
		opt.Mode = ModeEmbedded
	}
	if opt.Cluster == "" {
		id, err := ClusterID(ctx, opt.Config)
		if err != nil {
			return err
		}
		opt.Cluster = id
	}
	ctl, err := bus.MeshSyncControl(opt.Cluster)
	if err != nil {
		return err
	}
	cfg := rest.CopyConfig(opt.Config)
	cfg.WarningHandler = rest.NoWarnings{} // deprecation notices of listed kinds, once per list
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100 // many informers list at once at start
	}
	d := &discoverer{opt: opt, log: opt.Logger.With("cluster", opt.Cluster), watchers: map[string]*watcher{},
		crdKeys: map[string]string{}, snapshots: make(chan snapshotRequest, 64), statusDue: make(chan struct{}, 1),
		started: time.Now().UTC()}
	if d.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	if d.meta, err = metadata.NewForConfig(cfg); err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	js, err := jetstream.New(opt.NC, jetstream.WithPublishAsyncMaxPending(2*ackWindow), jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		return err
	}
	// No stream lookup: an in-cluster MeshSync may not reach JetStream's API (see
	// bus.MeshSyncPermissions). A missing stream shows as failed publishes, retried.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.ctx = ctx
	if d.pub, err = newPublisher(js, opt.Cluster, bus.NewBoot(), d.log, func(err error) { d.noteError("", err) }); err != nil {
		return err
	}
	go d.pub.ackLoop(ctx)

	sub, err := opt.NC.Subscribe(ctl, d.onControl)
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", ctl, err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	resources, err := discover(dc, opt.Scope)
	if len(resources) == 0 {
		return fmt.Errorf("meshsync: nothing to watch in scope (%v)", err)
	}
	if err != nil {
		d.noteError("", err)
	}
	d.mu.Lock()
	for _, r := range resources {
		d.startWatcherLocked(r)
	}
	d.mu.Unlock()
	d.log.Info("meshsync: watching", "resources", len(resources))

	go d.statusLoop(ctx)
	d.initialSnapshot(ctx)
	d.snapshotLoop(ctx)

	d.mu.Lock()
	ws := make([]*watcher, 0, len(d.watchers))
	for _, w := range d.watchers {
		ws = append(ws, w)
	}
	d.mu.Unlock()
	for _, w := range ws {
		w.stop()
	}
	return nil
}

func (d *discoverer) startWatcherLocked(r resource) {
	w := d.newWatcher(r)
	if r.GVR.Group == "apiextensions.k8s.io" && r.GVR.Resource == "customresourcedefinitions" {
		for _, inf := range w.informers {
			_, _ = inf.AddEventHandler(d.crdHandler())
		}
	}
	d.watchers[r.key()] = w
	w.start(d.ctx, d.onSynced)
}

// onSynced: a resource holds its first listing. After the start snapshot (a new CRD,
// a resource that was slow to list) it gets a snapshot of its own.
func (d *discoverer) onSynced(w *watcher) {
	d.mu.Lock()
	late := d.initialDone && d.watchers[w.res.key()] == w
	d.mu.Unlock()
	if late {
		d.requestSnapshot(snapshotRequest{keys: []string{w.res.key()}, reason: "new resource"})
	}
	d.statusChanged()
}

// onControl handles a control message: a resync snapshots every resource (or the
// ones named). Anything else is logged and ignored.
func (d *discoverer) onControl(m *nats.Msg) {
	e, err := bus.DecodeMeshSync(m.Data)
	if err == nil && e.Kind != bus.KindMeshSyncControl {
		err = fmt.Errorf("kind %q on the control subject", e.Kind)
	}
	if err != nil {
		d.log.Warn("meshsync: ignoring a control message", "error", err)
		return
	}
	c := e.MeshSyncControl
	req := snapshotRequest{reason: "resync: " + c.Reason}
	if len(c.Resources) > 0 {
		req.keys = c.Resources
	}
	go d.requestSnapshot(req)
}
