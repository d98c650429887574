// Package helmmesh is a Mesh (adapters/adapter) for meshes installed from Helm charts:
// the operations every such mesh shares (install and uninstall from a chart
// repository, sample app, injection on a namespace) driven by a Spec that holds the
// mesh's own knowledge (its charts, values, namespace, injection and mTLS settings).
// adapters/istio and adapters/linkerd are Specs.
package helmmesh

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshperf/meshperf/adapters/adapter"
	"github.com/meshperf/meshperf/adapters/charts"
	adapterv1 "github.com/meshperf/meshperf/adapters/proto/meshperf/adapter/v1"
	"github.com/meshperf/meshperf/kube"
)

// Chart is one chart of a mesh's install, in install order.
type Chart struct {
	Name    string // chart name in the repository
	Release string // release name
	// Values returns the chart's values for an install on cluster c (nil: the
	// chart's defaults); c lets them keep what an earlier install generated.
	Values func(ctx context.Context, c *charts.Cluster, op adapter.Operation) (map[string]any, error)
}

// Spec is a mesh's knowledge.
type Spec struct {
	Mesh             string
	DefaultNamespace string // control plane's namespace
	// Charts in install order; VersionChart is the chart whose versions are the
	// mesh's installable versions.
	Charts       []Chart
	VersionChart string
	// Injection returns the namespace labels and annotations that turn injection on
	// (enabled) or off; a nil value removes the key.
	Injection func(enabled bool) (labels, annotations map[string]*string)
	// PodInjection returns the pod template labels and annotations that put a
	// workload in (or keep it out of) the mesh.
	PodInjection func(inject bool) (labels, annotations map[string]string)
	// MTLS returns what to apply for a mesh-wide mTLS mode (strict, permissive) in
	// the control plane's namespace: objects, and namespace annotations.
	MTLS func(mode, controlNS string) ([]*unstructured.Unstructured, map[string]*string)
}

// Mesh is a helmmesh adapter.Mesh.
type Mesh struct {
	Spec Spec
	Repo *charts.Repo
	// SampleImage is the image of meshperf's sample app (`meshperf target`).
	SampleImage string
	// Validation configures the validate operation (conformance).
	Validation Validation
}

// SampleNamespace is where the sample app goes by default.
const SampleNamespace = "meshperf-sample"

// SampleName names the sample app's Deployment and Service.
const SampleName = "meshperf-target"

func (m *Mesh) Name() string   { return m.Spec.Mesh }
func (m *Mesh) Source() string { return m.Repo.URL }

// Versions are the VersionChart's versions in the repository, newest first.
func (m *Mesh) Versions(ctx context.Context) ([]string, error) {
	idx, err := m.Repo.Index(ctx)
	if err != nil {
		return nil, err
	}
	vs := idx.Versions(m.Spec.VersionChart)
	if len(vs) == 0 {
		return nil, fmt.Errorf("chart %s is not in %s", m.Spec.VersionChart, m.Repo.URL)
	}
	return vs, nil
}

var boolParam = []string{"true", "false"}

// Operations offered.
func (m *Mesh) Operations() []*adapterv1.OperationDescriptor {
	return []*adapterv1.OperationDescriptor{
		{Kind: adapterv1.OperationKind_OPERATION_KIND_INSTALL, Implemented: true,
			Description: fmt.Sprintf("install %s's control plane from its Helm charts (%s) at a version, wait until ready", m.Spec.Mesh, chartNames(m.Spec.Charts))},
		{Kind: adapterv1.OperationKind_OPERATION_KIND_UNINSTALL, Implemented: true,
			Description: "remove everything the install created: workloads, CRDs, the namespace when the adapter created it"},
		{Kind: adapterv1.OperationKind_OPERATION_KIND_SAMPLE_DEPLOY, Implemented: true,
			Description: "deploy meshperf's sample app (meshperf target: Deployment and Service) in or out of the mesh",
			Parameters: []*adapterv1.ParameterDescriptor{{Name: "inject", Description: "put the app in the mesh", Allowed: boolParam, Default: "true"},
				{Name: "replicas", Description: "replicas of the app", Allowed: []string{"1", "2", "3", "4", "5"}, Default: "1"}}},
		{Kind: adapterv1.OperationKind_OPERATION_KIND_SAMPLE_REMOVE, Implemented: true, Description: "remove the sample app (and its namespace when the adapter created it)"},
		{Kind: adapterv1.OperationKind_OPERATION_KIND_CONFIGURE_INJECTION, Implemented: true, Description: "turn sidecar injection on or off for a namespace",
			Parameters: []*adapterv1.ParameterDescriptor{{Name: "enabled", Description: "injection on", Allowed: boolParam, Default: "true"}}},
		{Kind: adapterv1.OperationKind_OPERATION_KIND_CONFIGURE_MTLS, Implemented: m.Spec.MTLS != nil, Reason: reasonIf(m.Spec.MTLS == nil, "this mesh's mTLS modes are not configurable here"),
			Description: "set the mesh-wide mTLS mode",
			Parameters:  []*adapterv1.ParameterDescriptor{{Name: "mode", Description: "mTLS mode", Allowed: []string{"strict", "permissive"}, Default: "strict"}}},
		{Kind: adapterv1.OperationKind_OPERATION_KIND_CONFIGURE_ADDONS, Implemented: false,
			Reason:      "add-ons (Prometheus, Grafana, tracing, dashboards) are not packaged by meshperf's adapters yet",
			Description: "install the mesh's add-ons", Parameters: []*adapterv1.ParameterDescriptor{{Name: "addons", Description: "comma-separated add-on names"}}},
		m.validateDescriptor(),
	}
}

func reasonIf(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

func chartNames(cs []Chart) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Name)
	}
	return strings.Join(s, " + ")
}

// Do performs one operation on one cluster.
func (m *Mesh) Do(ctx context.Context, op adapter.Operation, t adapter.Target) (map[string]string, error) {
	c, err := charts.Connect(ctx, t.Config)
	if err != nil {
		return nil, adapter.Fail(err, "connecting to cluster "+t.Name, "the API server of cluster "+t.Name+" is unreachable",
			"check the cluster's connection (meshperf cluster check) and that its API server is up")
	}
	switch op.Kind {
	case adapterv1.OperationKind_OPERATION_KIND_INSTALL:
		return m.install(ctx, c, op, t)
	case adapterv1.OperationKind_OPERATION_KIND_UNINSTALL:
		return m.uninstall(ctx, c, op, t)
	case adapterv1.OperationKind_OPERATION_KIND_SAMPLE_DEPLOY:
		return m.sampleDeploy(ctx, c, op, t)
	case adapterv1.OperationKind_OPERATION_KIND_SAMPLE_REMOVE:
		return m.sampleRemove(ctx, c, op, t)
	case adapterv1.OperationKind_OPERATION_KIND_CONFIGURE_INJECTION:
		return m.injection(ctx, c, op, t)
	case adapterv1.OperationKind_OPERATION_KIND_CONFIGURE_MTLS:
		return m.mtls(ctx, c, op, t)
	case adapterv1.OperationKind_OPERATION_KIND_VALIDATE:
		return m.validate(ctx, op, t)
	}
	return nil, fmt.Errorf("operation %s is not implemented", op.Kind)
}

func (m *Mesh) ns(op adapter.Operation, def string) string {
	if op.Namespace != "" {
		return op.Namespace
	}
	return def
}

func (m *Mesh) install(ctx context.Context, c *charts.Cluster, op adapter.Operation, t adapter.Target) (map[string]string, error) {
	ns := m.ns(op, m.Spec.DefaultNamespace)
	version := op.Version
	idx, err := m.Repo.Index(ctx)
	if err != nil {
		return nil, adapter.Fail(err, "reading the chart repository", "the chart repository "+m.Repo.URL+" is unreachable or its index is invalid", "check --chart-repo and the adapter's network access")
	}
	if version == "" {
		vs := idx.Versions(m.Spec.VersionChart)
		if len(vs) == 0 {
			return nil, adapter.Fail(nil, "no version to install", "chart "+m.Spec.VersionChart+" is not in "+m.Repo.URL, "point --chart-repo at the mesh's official chart repository")
		}
		version = vs[0]
	}
	entry, ok := idx.Find(m.Spec.VersionChart, version)
	if !ok {
		return nil, adapter.Fail(nil, fmt.Sprintf("%s %s is not offered", m.Spec.Mesh, version),
			"the chart repository has no version "+version+" of "+m.Spec.VersionChart,
			"pick one of: "+strings.Join(first(idx.Versions(m.Spec.VersionChart), 8), ", "))
	}
	op.Version, op.Namespace = entry.Version, ns
	t.Info("installing %s %s (app version %s) in namespace %s", m.Spec.Mesh, entry.Version, entry.AppVersion, ns)
	var rendered charts.Rendered
	for _, ch := range m.Spec.Charts {
		chv := entry.Version
		if ch.Name != m.Spec.VersionChart {
			// Charts of one mesh release share its version, or else its app version.
			if e, ok := idx.Find(ch.Name, entry.Version); ok {
				chv = e.Version
			} else if e, ok := findApp(idx, ch.Name, entry.AppVersion); ok {
				chv = e.Version
			} else {
				return nil, adapter.Fail(nil, "chart "+ch.Name+" has no version matching "+entry.Version, "the repository lacks part of the release", "install another version")
			}
		}
		chrt, err := m.Repo.Load(ctx, ch.Name, chv)
		if err != nil {
			return nil, adapter.Fail(err, "fetching chart "+ch.Name+" "+chv, "the chart could not be downloaded or read", "check the chart repository")
		}
		var vals map[string]any
		if ch.Values != nil {
			if vals, err = ch.Values(ctx, c, op); err != nil {
				return nil, err
			}
		}
		r, err := charts.Render(chrt, ch.Release, ns, vals, c.KubeVersion())
		if err != nil {
			return nil, adapter.Fail(err, "rendering chart "+ch.Name, "the chart does not render for this cluster", "check the chart version against the cluster's Kubernetes version")
		}
		t.Info("rendered %s %s: %d CRDs, %d objects", ch.Name, chv, len(r.CRDs), len(r.Objects))
		rendered.CRDs = append(rendered.CRDs, r.CRDs...)
		rendered.Objects = append(rendered.Objects, r.Objects...)
	}
	rec := charts.Record{Mesh: m.Spec.Mesh, Release: m.Spec.Mesh, Version: entry.Version, Namespace: ns}
	if err := c.Install(ctx, rec, &rendered, t.Info); err != nil {
		return nil, err
	}
	if err := c.WaitDeployments(ctx, ns, rendered.Objects, t.Info); err != nil {
		return nil, adapter.Fail(err, "waiting for the control plane", "a control-plane Deployment did not become available in time", "look at the Deployment's pods and events in namespace "+ns)
	}
	return map[string]string{"version": entry.Version, "app_version": entry.AppVersion, "namespace": ns}, nil
}

func findApp(idx *charts.Index, name, app string) (charts.Entry, bool) {
	if app == "" {
		return charts.Entry{}, false
	}
	for _, e := range idx.Entries[name] {
		if e.AppVersion == app {
			return e, true
		}
	}
	return charts.Entry{}, false
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (m *Mesh) uninstall(ctx context.Context, c *charts.Cluster, op adapter.Operation, t adapter.Target) (map[string]string, error) {
	ns := m.ns(op, m.Spec.DefaultNamespace)
	// The mTLS policy first: it needs the mesh's CRDs to be deleted cleanly.
	if _, err := c.Uninstall(ctx, ns, m.Spec.Mesh+"-mtls", t.Info); err != nil {
		return nil, err
	}
	found, err := c.Uninstall(ctx, ns, m.Spec.Mesh, t.Info)
	if err != nil {
		return nil, err
	}
	if !found {
		t.Warn("%s was not installed by meshperf in namespace %s: nothing to remove", m.Spec.Mesh, ns)
		return map[string]string{"removed": "false"}, nil
	}
	return map[string]string{"removed": "true"}, nil
}

func (m *Mesh) sampleObjects(op adapter.Operation, ns string) []*unstructured.Unstructured {
	inject := op.Parameters["inject"] != "false"
	podLabels := map[string]any{"app": SampleName, kube.ManagedByLabel: kube.FieldManager}
	podAnn := map[string]any{}
	if m.Spec.PodInjection != nil {
		l, a := m.Spec.PodInjection(inject)
		for k, v := range l {
			podLabels[k] = v
		}
		for k, v := range a {
			podAnn[k] = v
		}
	}
	replicas := int64(1)
	fmt.Sscan(op.Parameters["replicas"], &replicas)
	labels := map[string]any{"app": SampleName, kube.ManagedByLabel: kube.FieldManager, charts.MeshLabel: m.Spec.Mesh}
	dep := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": SampleName, "namespace": ns, "labels": labels},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": map[string]any{"app": SampleName}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": podLabels, "annotations": podAnn},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": "target", "image": m.SampleImage,
					"args": []any{"target", "--http-addr", ":8080", "--grpc-addr", ":8079", "--tcp-addr", ":8078"},
					"ports": []any{
						map[string]any{"name": "http", "containerPort": int64(8080)},
						map[string]any{"name": "grpc", "containerPort": int64(8079)},
						map[string]any{"name": "tcp", "containerPort": int64(8078)}},
					"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": "http"}},
				}}},
			},
		},
	}}
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": SampleName, "namespace": ns, "labels": labels},
		"spec": map[string]any{"selector": map[string]any{"app": SampleName}, "ports": []any{
			map[string]any{"name": "http", "port": int64(8080), "targetPort": "http"},
			map[string]any{"name": "grpc", "port": int64(8079), "targetPort": "grpc", "appProtocol": "grpc"},
			map[string]any{"name": "tcp", "port": int64(8078), "targetPort": "tcp"}}},
	}}
	return []*unstructured.Unstructured{svc, dep}
}

func (m *Mesh) sampleDeploy(ctx context.Context, c *charts.Cluster, op adapter.Operation, t adapter.Target) (map[string]string, error) {
	ns := m.ns(op, SampleNamespace)
	objs := m.sampleObjects(op, ns)
	rec := charts.Record{Mesh: m.Spec.Mesh + "-sample", Release: SampleName, Version: m.SampleImage, Namespace: ns}
	if err := c.Install(ctx, rec, &charts.Rendered{Objects: objs}, t.Info); err != nil {
		return nil, err
	}
	if err := c.WaitDeployments(ctx, ns, objs, t.Info); err != nil {
		return nil, adapter.Fail(err, "waiting for the sample app", "the sample app's Deployment did not become available in time", "look at its pods and events in namespace "+ns)
	}
	return map[string]string{"namespace": ns, "inject": op.Parameters["inject"], "service": SampleName + "." + ns + ":8080"}, nil
}

func (m *Mesh) sampleRemove(ctx context.Context, c *charts.Cluster, op adapter.Operation, t adapter.Target) (map[string]string, error) {
	ns := m.ns(op, SampleNamespace)
	found, err := c.Uninstall(ctx, ns, m.Spec.Mesh+"-sample", t.Info)
	if err != nil {
		return nil, err
	}
	if !found {
		t.Warn("no sample app of meshperf in namespace %s: nothing to remove", ns)
	}
	return map[string]string{"removed": fmt.Sprint(found)}, nil
}

// patchNamespace merges labels and annotations into a namespace (nil values remove).
func patchNamespace(ctx context.Context, c *charts.Cluster, ns string, labels, ann map[string]*string) error {
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels, "annotations": ann}})
	_, err := c.Core.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, body, metav1.PatchOptions{FieldManager: kube.FieldManager})
	if apierrors.IsNotFound(err) {
		return adapter.Fail(err, "namespace "+ns+" does not exist", "injection is configured on an existing namespace", "create the namespace first, or name another")
	}
	return err
}

func (m *Mesh) injection(ctx context.Context, c *charts.Cluster, op adapter.Operation, t adapter.Target) (map[string]string, error) {
	if op.Namespace == "" {
		return nil, adapter.Fail(nil, "no namespace", "injection is configured per namespace", "name the namespace of the operation")
	}
	enabled := op.Parameters["enabled"] != "false"
	l, a := m.Spec.Injection(enabled)
	if err := patchNamespace(ctx, c, op.Namespace, l, a); err != nil {
		return nil, err
	}
	t.Info("injection %s on namespace %s (pods created from now on)", map[bool]string{true: "enabled", false: "disabled"}[enabled], op.Namespace)
	return map[string]string{"namespace": op.Namespace, "injection": fmt.Sprint(enabled)}, nil
}

func (m *Mesh) mtls(ctx context.Context, c *charts.Cluster, op adapter.Operation, t adapter.Target) (map[string]string, error) {
	ns := m.ns(op, m.Spec.DefaultNamespace)
	mode := op.Parameters["mode"]
	objs, ann := m.Spec.MTLS(mode, ns)
	if _, err := c.Core.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		return nil, adapter.Fail(err, "namespace "+ns, "the mesh's namespace is missing: is the mesh installed?", "install the mesh first")
	}
	if len(ann) > 0 {
		if err := patchNamespace(ctx, c, ns, nil, ann); err != nil {
			return nil, err
		}
	}
	if len(objs) > 0 {
		rec := charts.Record{Mesh: m.Spec.Mesh + "-mtls", Release: "mtls", Version: mode, Namespace: ns}
		if err := c.Install(ctx, rec, &charts.Rendered{Objects: objs}, t.Info); err != nil {
			return nil, adapter.Fail(err, "applying the mTLS policy", "the mesh's CRDs may be missing: is the mesh installed?", "install the mesh first")
		}
	}
	t.Info("mTLS mode %s in %s", mode, ns)
	return map[string]string{"mode": mode}, nil
}
