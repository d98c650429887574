// Package fingerprint tells which service meshes (and which monitoring) run in a
// cluster, and their versions, from the objects MeshSync discovers: composite prints
// of CRDs, control-plane workloads and their images, namespaces, well-known labels and
// webhook configurations, one table per mesh. It imports nothing of meshperf's.
//
// A mesh is named only when several independent signals agree: a control-plane
// workload running the mesh's own image, and at least one more (its CRDs, its
// injector webhook, a second component, its well-known labels, injected proxies). A
// Deployment merely named istiod is not Istio; a mesh in any namespace is found.
package fingerprint

import (
	"sort"
)

// Object is what a fingerprint looks at: one discovered object, slim.
type Object struct {
	Group       string            `json:"group,omitempty"`
	Version     string            `json:"version,omitempty"`
	Kind        string            `json:"kind"`
	Namespace   string            `json:"namespace,omitempty"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// PodLabels and PodAnnotations are a workload's pod template's (a Pod's own for a
	// Pod): Services select on them and charts put versions there.
	PodLabels      map[string]string `json:"pod_labels,omitempty"`
	PodAnnotations map[string]string `json:"pod_annotations,omitempty"`
	// Containers are a workload's or pod's containers (init containers included).
	Containers []Container `json:"containers,omitempty"`
	// Service is a Service's selector and ports (nil for other kinds).
	Service *ServiceSpec `json:"service,omitempty"`
}

// Container is one container's name and image.
type Container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
	// Init is true for an init container (a native sidecar is one with restartPolicy
	// Always).
	Init bool `json:"init,omitempty"`
}

// ServiceSpec is what Identify needs of a Service.
type ServiceSpec struct {
	Selector map[string]string `json:"selector,omitempty"`
	Ports    []ServicePort     `json:"ports,omitempty"`
	Headless bool              `json:"headless,omitempty"`
}

// ServicePort is one port of a Service; TargetPort is a number or a name.
type ServicePort struct {
	Name       string `json:"name,omitempty"`
	Port       int32  `json:"port"`
	TargetPort string `json:"target_port,omitempty"`
}

// Mesh is one mesh found in a cluster.
type Mesh struct {
	// Type is the mesh's name as SMP spells it (istio, linkerd, cilium, kuma, consul,
	// traefik_mesh, open_service_mesh, nginx_service_mesh).
	Type string `json:"type"`
	// Mode is the data plane's mode: sidecar, ambient (Istio's ztunnel) or node (a
	// proxy per node: Cilium, Traefik Mesh).
	Mode      string `json:"mode,omitempty"`
	Version   string `json:"version,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// ControlPlane lists the workloads recognised as the mesh's control plane.
	ControlPlane []Component `json:"control_plane,omitempty"`
	Proxies      Proxies     `json:"proxies"`
	// Score is how many independent kinds of signal agreed (two at least).
	Score int `json:"score"`
	// Evidence says what matched, for people to check the verdict.
	Evidence []string `json:"evidence,omitempty"`
}

// Component is one control-plane workload.
type Component struct {
	// Role is what the workload is to the mesh (istiod, ztunnel, destination ...).
	Role      string `json:"role"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Image     string `json:"image,omitempty"`
	Version   string `json:"version,omitempty"`
}

// Proxies counts the data plane's proxies (injected sidecars or node proxies) and
// their versions.
type Proxies struct {
	Count    int            `json:"count"`
	Versions map[string]int `json:"versions,omitempty"`
}

// Monitoring is a Prometheus or Grafana found in a cluster.
type Monitoring struct {
	Kind      string `json:"kind"` // prometheus or grafana
	Namespace string `json:"namespace"`
	// Name is the workload's.
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Service and Port name where it listens inside the cluster, when known.
	Service string `json:"service,omitempty"`
	Port    int32  `json:"port,omitempty"`
}

// Report is what Identify found.
type Report struct {
	Meshes     []Mesh       `json:"meshes,omitempty"`
	Monitoring []Monitoring `json:"monitoring,omitempty"`
}

// Kinds Identify reads; other objects are ignored.
const (
	KindDeployment     = "Deployment"
	KindDaemonSet      = "DaemonSet"
	KindStatefulSet    = "StatefulSet"
	KindPod            = "Pod"
	KindService        = "Service"
	KindCRD            = "CustomResourceDefinition"
	KindMutatingHook   = "MutatingWebhookConfiguration"
	KindValidatingHook = "ValidatingWebhookConfiguration"
)

// Workloads are the kinds a control plane runs as.
var workloads = []string{KindDeployment, KindDaemonSet, KindStatefulSet}

// Identify looks at a cluster's objects and names the meshes and monitoring in it.
// Meshes come sorted by type and control-plane namespace, monitoring by kind,
// namespace and name.
func Identify(objects []Object) Report {
	var idx index
	for i := range objects {
		idx.add(&objects[i])
	}
	var rep Report
	for _, p := range prints {
		rep.Meshes = append(rep.Meshes, p.identify(&idx)...)
	}
	sort.SliceStable(rep.Meshes, func(i, j int) bool { return rep.Meshes[i].Type < rep.Meshes[j].Type })
	rep.Monitoring = findMonitoring(&idx)
	return rep
}

// index sorts the objects by what the prints ask of them.
type index struct {
	workloads, pods, services, crds, webhooks []*Object
}

func (x *index) add(o *Object) {
	switch o.Kind {
	case KindDeployment, KindDaemonSet, KindStatefulSet:
		x.workloads = append(x.workloads, o)
	case KindPod:
		x.pods = append(x.pods, o)
	case KindService:
		x.services = append(x.services, o)
	case KindCRD:
		x.crds = append(x.crds, o)
	case KindMutatingHook, KindValidatingHook:
		x.webhooks = append(x.webhooks, o)
	}
}
