// Package fingerprint tells which service meshes (and which monitoring) run in a
// cluster, and their versions, from the objects MeshSync discovers: composite prints
// of CRDs, control-plane workloads and their images, namespaces, well-known labels and
// webhook configurations, one table per mesh. It imports nothing of meshperf's.
package fingerprint

// Object is what a fingerprint looks at: one discovered object, slim.
type Object struct {
	Group       string            `json:"group,omitempty"`
	Version     string            `json:"version,omitempty"`
	Kind        string            `json:"kind"`
	Namespace   string            `json:"namespace,omitempty"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Containers are a workload's or pod's containers (init containers included).
	Containers []Container `json:"containers,omitempty"`
}

// Container is one container's name and image.
type Container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// Mesh is one mesh found in a cluster.
type Mesh struct {
	// Type is the mesh's name as SMP spells it (istio, linkerd, cilium, kuma, consul,
	// traefik_mesh, open_service_mesh, nginx_service_mesh).
	Type string `json:"type"`
	// Mode is the data plane's mode where a mesh has several (sidecar, ambient).
	Mode      string `json:"mode,omitempty"`
	Version   string `json:"version,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// ControlPlane lists the workloads recognised as the mesh's control plane.
	ControlPlane []Component `json:"control_plane,omitempty"`
	Proxies      Proxies     `json:"proxies"`
	// Evidence says what matched, for people to check the verdict.
	Evidence []string `json:"evidence,omitempty"`
}

// Component is one control-plane workload.
type Component struct {
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
	Name      string `json:"name"`
	Version   string `json:"version,omitempty"`
	// Service and Port name where it listens inside the cluster, when known.
	Service string `json:"service,omitempty"`
	Port    int32  `json:"port,omitempty"`
}

// Report is what Identify found.
type Report struct {
	Meshes     []Mesh       `json:"meshes,omitempty"`
	Monitoring []Monitoring `json:"monitoring,omitempty"`
}

// Identify looks at a cluster's objects and names the meshes and monitoring in it.
func Identify(objects []Object) Report {
	return Report{}
}

// FromTrimmed makes an Object from a trimmed object as MeshSync ships it (JSON of the
// Kubernetes object with its metadata) and its group, version and kind.
func FromTrimmed(group, version, kind string, object []byte) (Object, error) {
	return Object{Group: group, Version: version, Kind: kind}, nil
}
