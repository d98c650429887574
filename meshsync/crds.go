package meshsync

import (
	"encoding/json"
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/tools/cache"
)

// crdShape is what of a CRD decides its watch: the resource and the version watched.
// caBundle, status beyond Established, labels and annotations are not in it, so a
// controller rewriting them (cert-manager's cainjector) restarts and relists nothing.
type crdShape struct {
	resource    resource
	versions    []string // served
	established bool
}

type crdBody struct {
	Spec struct {
		Group string `json:"group"`
		Names struct {
			Plural string `json:"plural"`
			Kind   string `json:"kind"`
		} `json:"names"`
		Scope    string `json:"scope"`
		Versions []struct {
			Name   string `json:"name"`
			Served bool   `json:"served"`
		} `json:"versions"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

func shapeOf(obj any) (string, *crdShape) {
	m, body, ok := metaOf(obj)
	if !ok || body == nil {
		return "", nil
	}
	var c crdBody
	if err := json.Unmarshal(body, &c); err != nil || c.Spec.Group == "" || c.Spec.Names.Plural == "" {
		return m.Name, nil
	}
	s := &crdShape{}
	for _, v := range c.Spec.Versions {
		if v.Served {
			s.versions = append(s.versions, v.Name)
		}
	}
	for _, cond := range c.Status.Conditions {
		if cond.Type == "Established" && cond.Status == "True" {
			s.established = true
		}
	}
	if len(s.versions) == 0 {
		return m.Name, s
	}
	// The version discovery prefers: the highest by Kubernetes' version ordering.
	best := slices.MaxFunc(s.versions, version.CompareKubeAwareVersionStrings)
	s.resource = resource{GVR: schema.GroupVersionResource{Group: c.Spec.Group, Version: best, Resource: c.Spec.Names.Plural},
		Kind: c.Spec.Names.Kind, Namespaced: c.Spec.Scope == "Namespaced"}
	return m.Name, s
}

// crdHandler keeps the custom resources' watches in step with the CRDs.
func (d *discoverer) crdHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { d.crdChanged(obj, false) },
		UpdateFunc: func(_, obj any) { d.crdChanged(obj, false) },
		DeleteFunc: func(obj any) { d.crdChanged(obj, true) },
	}
}

// crdChanged starts, keeps or restarts one CRD's watch. A CRD keeps its watch while
// the version watched is still served; otherwise (a new CRD, a version no longer
// served) only that CRD's watch is replaced; a deleted CRD's watch stops and its
// resource gets an empty snapshot (the consumer drops what is left of it).
func (d *discoverer) crdChanged(obj any, deleted bool) {
	name, shape := shapeOf(obj)
	if name == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var old *watcher
	if key, had := d.crdKeys[name]; had {
		old = d.watchers[key]
	} else if shape != nil {
		// Found by discovery at start, perhaps at another served version.
		for _, w := range d.watchers {
			if w.res.GVR.GroupResource() == shape.resource.GVR.GroupResource() {
				old, d.crdKeys[name] = w, w.res.key()
			}
		}
	}
	if !deleted && shape != nil && shape.established && len(shape.versions) > 0 {
		if old != nil && slices.Contains(shape.versions, old.res.GVR.Version) {
			return // still served: caBundle, status or label churn changes nothing
		}
		r := shape.resource
		if !d.opt.Scope.inScope(r) {
			return
		}
		r = d.opt.Scope.complete(r)
		if old != nil {
			d.dropWatcherLocked(old)
		}
		d.crdKeys[name] = r.key()
		d.startWatcherLocked(r)
		d.statusChanged()
		return
	}
	if deleted && old != nil {
		delete(d.crdKeys, name)
		d.dropWatcherLocked(old)
		d.statusChanged()
	}
}

// dropWatcherLocked stops a watcher and empties its resource at the consumer.
func (d *discoverer) dropWatcherLocked(w *watcher) {
	delete(d.watchers, w.res.key())
	go func() {
		w.stop()
		d.requestSnapshot(snapshotRequest{gone: []string{w.res.key()}, reason: "resource removed"})
	}()
}
