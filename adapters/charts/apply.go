package charts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/meshperf/meshperf/kube"
)

// Labels and annotations meshperf's adapters put on what they create.
const (
	MeshLabel         = "meshperf.io/mesh"
	ReleaseLabel      = "meshperf.io/release"
	CreatedAnnotation = "meshperf.io/created-by-adapter"
	recordKey         = "objects.json"
)

// Ref names one applied object.
type Ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// Record is what a release installed, kept in a ConfigMap in its namespace.
type Record struct {
	Mesh             string `json:"mesh"`
	Release          string `json:"release"`
	Version          string `json:"version"`
	Namespace        string `json:"namespace"`
	CreatedNamespace bool   `json:"created_namespace"`
	Objects          []Ref  `json:"objects"`
}

// Cluster is one cluster's clients.
type Cluster struct {
	RC      *rest.Config
	Core    kubernetes.Interface
	Dyn     dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
	version string
}

// Connect builds the clients of a cluster and reads its version.
func Connect(ctx context.Context, rc *rest.Config) (*Cluster, error) {
	core, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("reaching the API server at %s: %w", rc.Host, err)
	}
	return &Cluster{RC: rc, Core: core, Dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), version: v.GitVersion}, nil
}

// KubeVersion is the cluster's version (v1.36.3).
func (c *Cluster) KubeVersion() string { return c.version }

func (c *Cluster) resource(apiVersion, kind, namespace string) (dynamic.ResourceInterface, bool, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, false, err
	}
	m, err := c.mapper.RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
	if err != nil && meta.IsNoMatchError(err) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
	}
	if err != nil {
		return nil, false, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Dyn.Resource(m.Resource).Namespace(namespace), true, nil
	}
	return c.Dyn.Resource(m.Resource), false, nil
}

// Progress reports one step.
type Progress func(format string, args ...any)

// Install applies a release: namespace (created and marked when absent), the record
// (first, so an interrupted install can still be uninstalled), CRDs (waited for until
// established), then every object; all with server-side apply and meshperf's labels.
func (c *Cluster) Install(ctx context.Context, rec Record, r *Rendered, say Progress) error {
	created, err := c.ensureNamespace(ctx, rec.Namespace, rec.Mesh)
	if err != nil {
		return err
	}
	if old, err := c.ReadRecord(ctx, rec.Namespace, rec.Mesh); err == nil && old != nil {
		rec.CreatedNamespace = old.CreatedNamespace
		// Keep the refs of the previous version too, so an upgrade's leftovers are
		// still removed by uninstall.
		rec.Objects = append(rec.Objects, old.Objects...)
	}
	rec.CreatedNamespace = rec.CreatedNamespace || created
	all := append(append([]*unstructured.Unstructured{}, r.CRDs...), r.Objects...)
	for _, o := range all {
		label(o, rec)
		ref := Ref{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Name: o.GetName()}
		if o.GetKind() != "CustomResourceDefinition" && o.GetKind() != "Namespace" {
			ref.Namespace = o.GetNamespace()
			if ref.Namespace == "" {
				ref.Namespace = rec.Namespace
			}
		}
		rec.Objects = append(rec.Objects, ref)
	}
	rec.Objects = dedupe(rec.Objects)
	if err := c.writeRecord(ctx, rec); err != nil {
		return err
	}
	for _, o := range r.CRDs {
		if err := c.apply(ctx, o, rec.Namespace); err != nil {
			return err
		}
	}
	if len(r.CRDs) > 0 {
		say("applied %d CRDs", len(r.CRDs))
		if err := c.waitCRDs(ctx, r.CRDs); err != nil {
			return err
		}
		c.mapper.Reset()
	}
	objs := append([]*unstructured.Unstructured{}, r.Objects...)
	sort.SliceStable(objs, func(i, j int) bool { return kindOrder(objs[i].GetKind()) < kindOrder(objs[j].GetKind()) })
	for _, o := range objs {
		if err := c.apply(ctx, o, rec.Namespace); err != nil {
			return err
		}
	}
	say("applied %d objects of %s %s", len(objs), rec.Release, rec.Version)
	return nil
}

func label(o *unstructured.Unstructured, rec Record) {
	l := o.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[kube.ManagedByLabel] = kube.FieldManager
	l[MeshLabel] = rec.Mesh
	l[ReleaseLabel] = rec.Release
	o.SetLabels(l)
}

func (c *Cluster) apply(ctx context.Context, o *unstructured.Unstructured, ns string) error {
	objNS := o.GetNamespace()
	if objNS == "" {
		objNS = ns
	}
	ri, namespaced, err := c.resource(o.GetAPIVersion(), o.GetKind(), objNS)
	if err != nil {
		return fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
	}
	if namespaced {
		o.SetNamespace(objNS)
	} else {
		o.SetNamespace("")
	}
	data, err := json.Marshal(o.Object)
	if err != nil {
		return err
	}
	if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: kube.FieldManager, Force: new(true)}); err != nil {
		return fmt.Errorf("applying %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
	}
	return nil
}

func (c *Cluster) ensureNamespace(ctx context.Context, ns, mesh string) (bool, error) {
	_, err := c.Core.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil {
		return false, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	_, err = c.Core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels:      map[string]string{kube.ManagedByLabel: kube.FieldManager, MeshLabel: mesh},
		Annotations: map[string]string{CreatedAnnotation: mesh}}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	return true, nil
}

func recordName(mesh string) string { return "meshperf-" + mesh + "-release" }

func (c *Cluster) writeRecord(ctx context.Context, rec Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: recordName(rec.Mesh), Namespace: rec.Namespace,
			Labels: map[string]string{kube.ManagedByLabel: kube.FieldManager, MeshLabel: rec.Mesh, ReleaseLabel: rec.Release}},
		Data: map[string]string{recordKey: string(data)}}
	body, _ := json.Marshal(cm)
	_, err = c.Core.CoreV1().ConfigMaps(rec.Namespace).Patch(ctx, cm.Name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: kube.FieldManager, Force: new(true)})
	if err != nil {
		return fmt.Errorf("writing the release record %s/%s: %w", rec.Namespace, cm.Name, err)
	}
	return nil
}

// ReadRecord reads a mesh's release record in namespace; nil when there is none.
func (c *Cluster) ReadRecord(ctx context.Context, ns, mesh string) (*Record, error) {
	cm, err := c.Core.CoreV1().ConfigMaps(ns).Get(ctx, recordName(mesh), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the release record: %w", err)
	}
	var rec Record
	if err := json.Unmarshal([]byte(cm.Data[recordKey]), &rec); err != nil {
		return nil, fmt.Errorf("the release record %s/%s is damaged: %w", ns, cm.Name, err)
	}
	return &rec, nil
}

func (c *Cluster) waitCRDs(ctx context.Context, crds []*unstructured.Unstructured) error {
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, crd := range crds {
		err := poll(ctx, 200*time.Millisecond, func() (bool, error) {
			u, err := c.Dyn.Resource(gvr).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, x := range conds {
				m, _ := x.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", crd.GetName(), err)
		}
	}
	return nil
}

// WaitDeployments waits until every Deployment among objs is available (all its
// replicas updated and available), reporting each as it becomes so.
func (c *Cluster) WaitDeployments(ctx context.Context, ns string, objs []*unstructured.Unstructured, say Progress) error {
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		dns := o.GetNamespace()
		if dns == "" {
			dns = ns
		}
		var last string
		err := poll(ctx, 250*time.Millisecond, func() (bool, error) {
			d, err := c.Core.AppsV1().Deployments(dns).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				last = err.Error()
				return false, nil
			}
			want := int32(1)
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			last = fmt.Sprintf("%d of %d replicas available", d.Status.AvailableReplicas, want)
			return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas >= want && d.Status.AvailableReplicas >= want, nil
		})
		if err != nil {
			return fmt.Errorf("Deployment %s/%s not available (%s): %w", dns, o.GetName(), last, err)
		}
		say("Deployment %s/%s available", dns, o.GetName())
	}
	return nil
}

// Uninstall deletes everything a release record lists (namespaced objects, then
// cluster-scoped ones, CRDs last), waits until they are gone, then deletes the record
// and the namespace when the adapter created it. No record: nothing to do (false).
func (c *Cluster) Uninstall(ctx context.Context, ns, mesh string, say Progress) (bool, error) {
	rec, err := c.ReadRecord(ctx, ns, mesh)
	if err != nil || rec == nil {
		return false, err
	}
	refs := append([]Ref{}, rec.Objects...)
	sort.SliceStable(refs, func(i, j int) bool { return deleteOrder(refs[i]) < deleteOrder(refs[j]) })
	bg := metav1.DeletePropagationBackground
	var errs []error
	for _, r := range refs {
		ri, _, err := c.resource(r.APIVersion, r.Kind, r.Namespace)
		if err != nil {
			if meta.IsNoMatchError(err) {
				continue // its CRD is already gone, and with it the object
			}
			errs = append(errs, fmt.Errorf("%s %s: %w", r.Kind, r.Name, err))
			continue
		}
		if err := ri.Delete(ctx, r.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s/%s: %w", r.Kind, r.Namespace, r.Name, err))
		}
	}
	if len(errs) > 0 {
		return true, errors.Join(errs...)
	}
	say("deleted %d objects of %s", len(refs), rec.Release)
	for _, r := range refs {
		ri, _, err := c.resource(r.APIVersion, r.Kind, r.Namespace)
		if err != nil {
			continue
		}
		if err := poll(ctx, 250*time.Millisecond, func() (bool, error) {
			_, err := ri.Get(ctx, r.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err) || meta.IsNoMatchError(err), nil
		}); err != nil {
			return true, fmt.Errorf("%s %s/%s is still there: %w", r.Kind, r.Namespace, r.Name, err)
		}
	}
	if err := c.Core.CoreV1().ConfigMaps(ns).Delete(ctx, recordName(mesh), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return true, fmt.Errorf("deleting the release record: %w", err)
	}
	if rec.CreatedNamespace {
		if err := c.Core.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return true, fmt.Errorf("deleting namespace %s: %w", ns, err)
		}
		if err := poll(ctx, 250*time.Millisecond, func() (bool, error) {
			_, err := c.Core.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		}); err != nil {
			return true, fmt.Errorf("namespace %s is still there: %w", ns, err)
		}
		say("deleted namespace %s", ns)
	}
	return true, nil
}

func kindOrder(k string) int {
	switch k {
	case "Namespace":
		return 0
	case "ServiceAccount", "Secret", "ConfigMap":
		return 1
	case "ClusterRole", "Role":
		return 2
	case "ClusterRoleBinding", "RoleBinding":
		return 3
	case "Service":
		return 4
	case "Deployment", "DaemonSet", "StatefulSet":
		return 5
	case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
		return 7
	}
	return 6
}

func deleteOrder(r Ref) int {
	switch {
	case r.Kind == "MutatingWebhookConfiguration" || r.Kind == "ValidatingWebhookConfiguration":
		return 0 // first: no admission call may reach a control plane being removed
	case r.Kind == "CustomResourceDefinition":
		return 3
	case r.Kind == "Namespace":
		return 4
	case r.Namespace == "":
		return 2
	}
	return 1
}

func dedupe(refs []Ref) []Ref {
	seen := map[Ref]bool{}
	out := refs[:0]
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// poll calls f every interval until it returns true, an error, or ctx ends.
func poll(ctx context.Context, interval time.Duration, f func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
