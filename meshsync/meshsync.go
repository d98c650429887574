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
	"slices"
	"strings"
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

// initialSnapshot waits (bounded) for every resource's first listing, then sends the
// start snapshot of those listed.
func (d *discoverer) initialSnapshot(ctx context.Context) {
	wctx, cancel := context.WithTimeout(ctx, initialSyncWait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
wait:
	for !d.allSynced() {
		select {
		case <-tick.C:
		case <-wctx.Done():
			if ctx.Err() != nil {
				return
			}
			d.noteError("", errors.New("some resources were not listed in time; each gets a snapshot when it is"))
			break wait
		}
	}
	d.mu.Lock()
	d.initialDone = true
	d.mu.Unlock()
	d.snapshot(ctx, snapshotRequest{reason: "start"})
}

func (d *discoverer) allSynced() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.watchers {
		if !w.synced.Load() {
			return false
		}
	}
	return true
}

func (d *discoverer) requestSnapshot(r snapshotRequest) {
	select {
	case d.snapshots <- r:
	case <-d.ctx.Done():
	}
}

// snapshotLoop takes snapshots one at a time, so they never interleave.
func (d *discoverer) snapshotLoop(ctx context.Context) {
	for {
		select {
		case r := <-d.snapshots:
			d.snapshot(ctx, r)
		case <-ctx.Done():
			return
		}
	}
}

// snapshot sends a start marker, every object of the resources asked for (each
// resource's cache listed while none of its events go out), and an end marker with
// the count, then waits until the stream holds all of it.
func (d *discoverer) snapshot(ctx context.Context, r snapshotRequest) {
	var ws []*watcher
	d.mu.Lock()
	if r.keys == nil && r.gone == nil {
		for _, w := range d.watchers {
			if w.synced.Load() {
				ws = append(ws, w)
			}
		}
	}
	for _, k := range r.keys {
		if w := d.watchers[k]; w != nil && w.synced.Load() {
			ws = append(ws, w)
		}
	}
	slices.SortFunc(ws, func(a, b *watcher) int { return strings.Compare(a.res.key(), b.res.key()) })
	d.snapN++
	id := fmt.Sprintf("%s-%d", d.pub.boot, d.snapN)
	d.mu.Unlock()
	keys := append([]string(nil), r.gone...)
	for _, w := range ws {
		keys = append(keys, w.res.key())
	}
	if len(keys) == 0 {
		return
	}
	begin := time.Now()
	if err := d.pub.send(ctx, &bus.MeshSyncEvent{Type: bus.EventSnapshotStart, Snapshot: id, Resources: keys, Reason: r.reason}); err != nil {
		return
	}
	count := 0
	for _, w := range ws {
		w.mu.Lock()
		for _, obj := range w.listAll() {
			if o := objectOf(w.res, obj); o != nil {
				if err := d.pub.send(ctx, &bus.MeshSyncEvent{Type: bus.EventAdded, Snapshot: id, Object: o}); err != nil {
					w.mu.Unlock()
					return
				}
				count++
			}
		}
		w.mu.Unlock()
	}
	if err := d.pub.send(ctx, &bus.MeshSyncEvent{Type: bus.EventSnapshotEnd, Snapshot: id, Resources: keys, Count: count, Reason: r.reason}); err != nil {
		return
	}
	if err := d.pub.flush(ctx); err != nil {
		return
	}
	d.log.Info("meshsync: snapshot published", "snapshot", id, "reason", r.reason, "resources", len(keys),
		"objects", count, "took", time.Since(begin).Round(time.Millisecond))
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

func (d *discoverer) noteError(key string, err error) {
	msg := err.Error()
	if key != "" {
		msg = key + ": " + msg
	}
	d.mu.Lock()
	changed := d.lastErr != msg
	d.lastErr, d.lastErrAt = msg, time.Now().UTC()
	d.mu.Unlock()
	if changed {
		d.log.Warn("meshsync", "error", msg)
		d.statusChanged()
	}
}

func (d *discoverer) statusChanged() {
	select {
	case d.statusDue <- struct{}{}:
	default:
	}
}

// statusLoop sends a status event every StatusEvery and soon after a change (at most
// one a second).
func (d *discoverer) statusLoop(ctx context.Context) {
	tick := time.NewTicker(StatusEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-d.statusDue:
			select {
			case <-time.After(time.Second): // gathers a burst of changes into one status
			case <-ctx.Done():
				return
			}
		case <-ctx.Done():
			return
		}
		_ = d.pub.send(ctx, &bus.MeshSyncEvent{Type: bus.EventStatus, Status: d.status()})
	}
}

func (d *discoverer) status() *bus.MeshSyncStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &bus.MeshSyncStatus{Mode: d.opt.Mode, State: "syncing", Resources: len(d.watchers), LastError: d.lastErr,
		LastErrorAt: d.lastErrAt, StartedAt: d.started, MeshperfVers: d.opt.Version}
	synced := true
	for _, w := range d.watchers {
		s.WatchesOpen += len(w.informers)
		s.Objects += w.objects()
		synced = synced && w.synced.Load()
	}
	if synced && d.initialDone {
		s.State = "watching"
	}
	return s
}
