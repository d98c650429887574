package meshsync

import (
	"context"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/meshperf/meshperf/bus"
)

// watcher watches one resource: one informer for the whole cluster, or one per
// included namespace; excluded namespaces are left out by field selector, so the API
// server never sends them.
type watcher struct {
	res       resource
	informers []cache.SharedIndexInformer
	cancel    context.CancelFunc
	done      chan struct{} // closed when every informer has stopped

	// mu orders this resource's events with its snapshots: a snapshot lists the
	// cache and sends every object while no event of the resource goes out.
	mu     sync.Mutex
	synced atomic.Bool
	// gone is set when listing the resource says it does not exist (its CRD was
	// deleted before the CRD watch saw it): the start snapshot does not wait for it.
	gone atomic.Bool
	// relisting is set when the reflector lists again after its first listing (a
	// lost watch): the resource gets a snapshot once the new listing is cached.
	relisting atomic.Bool
	listed    chan struct{}
}

// selectorFor is the field selector that keeps excluded namespaces out of a watch.
func selectorFor(r resource, scope Scope) string {
	var parts []string
	field := "metadata.namespace"
	switch {
	case r.Namespaced:
	case r.GVR.Group == "" && r.GVR.Resource == "namespaces":
		field = "metadata.name" // the scope's namespaces are these objects themselves
	default:
		return ""
	}
	for _, ns := range scope.ExcludeNamespaces {
		parts = append(parts, field+"!="+ns)
	}
	return strings.Join(parts, ",")
}

// namespacesFor is where r is watched: "" (everywhere) or each included namespace.
func namespacesFor(r resource, scope Scope) []string {
	if len(scope.IncludeNamespaces) == 0 || !r.Namespaced {
		return []string{""}
	}
	return scope.IncludeNamespaces
}

func (d *discoverer) newWatcher(r resource) *watcher {
	w := &watcher{res: r, done: make(chan struct{}), listed: make(chan struct{}, 1)}
	sel := selectorFor(r, d.opt.Scope)
	nsFilter := r.GVR.Group == "" && r.GVR.Resource == "namespaces" && len(d.opt.Scope.IncludeNamespaces) > 0
	namespaces := namespacesFor(r, d.opt.Scope)
	if nsFilter {
		namespaces = d.opt.Scope.IncludeNamespaces // one watch per included Namespace object
	}
	d.log.Debug("meshsync: watch", "resource", r.key(), "full", r.Full, "namespaces", namespaces, "selector", sel)
	for _, ns := range namespaces {
		fs := sel
		watchNS := ns
		if nsFilter {
			fs, watchNS = "metadata.name="+ns, ""
		}
		tweak := func(o *metav1.ListOptions) {
			if fs != "" {
				o.FieldSelector = fs
			}
		}
		inf := d.informer(w, watchNS, tweak)
		_ = inf.SetTransform(transformFor(r))
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			if apierrors.IsNotFound(err) {
				w.gone.Store(true)
			}
			d.noteError(r.key(), err)
		})
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			AddFunc: func(obj any, initial bool) {
				if !initial {
					d.objectEvent(w, bus.EventAdded, obj)
				}
			},
			UpdateFunc: func(old, obj any) {
				om, _, _ := metaOf(old)
				nm, _, _ := metaOf(obj)
				if om != nil && nm != nil && om.ResourceVersion == nm.ResourceVersion {
					return // a relist that found the object unchanged
				}
				d.objectEvent(w, bus.EventModified, obj)
			},
			DeleteFunc: func(obj any) { d.objectEvent(w, bus.EventDeleted, obj) },
		})
		w.informers = append(w.informers, inf)
	}
	return w
}

// informer lists and watches w's resource in namespace ns (all: ""), metadata only or
// whole, and tells each listing after the first (a relist: a lost watch, an expired
// resource version) so the resource gets a snapshot once the new listing is cached.
func (d *discoverer) informer(w *watcher, ns string, tweak func(*metav1.ListOptions)) cache.SharedIndexInformer {
	gvr := w.res.GVR
	listing := func(o *metav1.ListOptions, watching bool) {
		tweak(o)
		if (!watching || (o.SendInitialEvents != nil && *o.SendInitialEvents)) && w.synced.Load() &&
			w.relisting.CompareAndSwap(false, true) {
			select {
			case <-w.listed: // a stale signal from before this relist
			default:
			}
			go d.awaitRelist(w, w.lastSync())
		}
	}
	// listed tells awaitRelist a listing came in whole (a LIST returned, or a
	// watch-list's initial events ended).
	listed := func() {
		select {
		case w.listed <- struct{}{}:
		default:
		}
	}
	watched := func(wi watch.Interface, err error) (watch.Interface, error) {
		if err != nil {
			return nil, err
		}
		return watch.Filter(wi, func(e watch.Event) (watch.Event, bool) {
			if e.Type == watch.Bookmark {
				if m, err := meta.Accessor(e.Object); err == nil && m.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true" {
					listed()
				}
			}
			return e, true
		}), nil
	}
	if w.res.Full {
		c := d.dyn.Resource(gvr).Namespace(ns)
		return cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				listing(&o, false)
				defer listed()
				return c.List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				listing(&o, true)
				return watched(c.Watch(ctx, o))
			},
		}, d.dyn), &unstructured.Unstructured{}, 0, cache.Indexers{})
	}
	c := d.meta.Resource(gvr).Namespace(ns)
	return cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			listing(&o, false)
			defer listed()
			return c.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			listing(&o, true)
			return watched(c.Watch(ctx, o))
		},
	}, d.meta), &metav1.PartialObjectMetadata{}, 0, cache.Indexers{})
}

// start runs the informers until ctx ends or the watcher is stopped, and reports
// when all of them hold their first listing.
func (w *watcher) start(ctx context.Context, onSynced func(*watcher)) {
	ctx, w.cancel = context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, inf := range w.informers {
		wg.Add(1)
		go func() { defer wg.Done(); inf.RunWithContext(ctx) }()
	}
	go func() { wg.Wait(); close(w.done) }()
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), w.hasSynced) {
			w.synced.Store(true)
			onSynced(w)
		}
	}()
}

func (w *watcher) hasSynced() bool {
	for _, inf := range w.informers {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

func (w *watcher) stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
	}
}

// objects is how many objects the cache holds.
func (w *watcher) objects() int {
	n := 0
	for _, inf := range w.informers {
		n += len(inf.GetStore().ListKeys())
	}
	return n
}

func (w *watcher) lastSync() string {
	var b strings.Builder
	for _, inf := range w.informers {
		b.WriteString(inf.LastSyncResourceVersion())
		b.WriteByte(',')
	}
	return b.String()
}

// awaitRelist waits (bounded) for the reflector's new listing to be cached, then
// snapshots the resource: what changed while the watch was lost is then known to the
// consumer, deletions included. A listing whose resource version did not move (no
// write anywhere meanwhile) is taken as cached a moment after it arrived whole.
func (d *discoverer) awaitRelist(w *watcher, before string) {
	defer w.relisting.Store(false)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Minute)
	var arrived <-chan time.Time
	for w.lastSync() == before {
		select {
		case <-tick.C:
		case <-w.listed:
			arrived = time.After(time.Second)
		case <-arrived:
			d.requestSnapshot(snapshotRequest{keys: []string{w.res.key()}, reason: "relist"})
			return
		case <-deadline:
			return
		case <-d.ctx.Done():
			return
		}
	}
	d.requestSnapshot(snapshotRequest{keys: []string{w.res.key()}, reason: "relist"})
}

// objectEvent sends one object's change.
func (d *discoverer) objectEvent(w *watcher, typ string, obj any) {
	o := objectOf(w.res, obj)
	if o == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := d.pub.send(d.ctx, &bus.MeshSyncEvent{Type: typ, Object: o}); err != nil && d.ctx.Err() == nil {
		d.noteError(w.res.key(), err)
	}
}

// objectOf is an item as it travels.
func objectOf(r resource, obj any) *bus.MeshSyncObject {
	m, body, ok := metaOf(obj)
	if !ok {
		return nil
	}
	o := &bus.MeshSyncObject{Group: r.GVR.Group, Version: r.GVR.Version, Resource: r.GVR.Resource, Kind: r.Kind,
		Namespace: m.Namespace, Name: m.Name, UID: string(m.UID), ResourceVersion: m.ResourceVersion,
		Labels: m.Labels, Annotations: m.Annotations}
	if r.Full && !r.isSecret() {
		o.Object = body
	}
	for _, ref := range m.OwnerReferences {
		o.Owners = append(o.Owners, bus.OwnerRef{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name,
			UID: string(ref.UID), Controller: ref.Controller != nil && *ref.Controller})
	}
	return o
}

// listAll is every object the cache holds.
func (w *watcher) listAll() []any {
	var out []any
	for _, inf := range w.informers {
		out = append(out, inf.GetStore().List()...)
	}
	return out
}
