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
	"strconv"
	"strings"
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
// Meshes come sorted by type, monitoring by kind, namespace and name.
func Identify(objects []Object) Report {
	var idx index
	for i := range objects {
		idx.add(&objects[i])
	}
	var rep Report
	for _, p := range prints {
		if m, ok := p.identify(&idx); ok {
			rep.Meshes = append(rep.Meshes, m)
		}
	}
	sort.Slice(rep.Meshes, func(i, j int) bool { return rep.Meshes[i].Type < rep.Meshes[j].Type })
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

// label is a well-known label: Value "" matches any value.
type label struct{ Key, Value string }

func (l label) in(m map[string]string) bool {
	v, ok := m[l.Key]
	return ok && (l.Value == "" || v == l.Value)
}

func (l label) String() string {
	if l.Value == "" {
		return l.Key
	}
	return l.Key + "=" + l.Value
}

// meshPrint is one mesh's composite fingerprint (one file per mesh fills one).
type meshPrint struct {
	Type string
	// DefaultMode is the mode unless a component says otherwise.
	DefaultMode string
	Components  []componentPrint
	// CRDGroups are the API groups of its CRDs (a CRD is named plural.group); a
	// group matches itself and its subgroups.
	CRDGroups []string
	// Webhooks are name prefixes of its webhook configurations.
	Webhooks []string
	// Sidecars are its injected proxy containers.
	Sidecars []sidecarPrint
	// VersionKeys are labels or annotations (on the workload or its pod template)
	// that carry the control plane's version when its image is pinned by digest.
	VersionKeys []string
}

// componentPrint is one control-plane workload.
type componentPrint struct {
	Role  string
	Kinds []string
	// Images are repository paths (without registry: "istio/pilot"); a mirror's
	// extra prefix still matches ("mirror/istio/pilot").
	Images []string
	// Labels are the well-known labels the installers put on it (any one counts).
	Labels []label
	// NeedLabel: the image alone is too common to count (traefik, envoy); a label
	// must match too.
	NeedLabel bool
	// Primary: its version and namespace are the mesh's.
	Primary bool
	// Mode, when set, is the mesh's mode if this component runs (ambient).
	Mode string
	// NodeProxy: its pods are the data plane's proxies (ztunnel, a per-node proxy).
	NodeProxy bool
}

// sidecarPrint is one injected proxy container.
type sidecarPrint struct {
	Names  []string
	Images []string
	// VersionKeys are pod labels or annotations with the proxy's version when the
	// image is pinned by digest.
	VersionKeys []string
	// PodLabel, when set, must be on the pod: the container alone is too common
	// (an envoy container is not always OSM's).
	PodLabel string
}

func (c *componentPrint) matchKind(kind string) bool {
	kinds := c.Kinds
	if len(kinds) == 0 {
		kinds = workloads
	}
	for _, k := range kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// matchLabel returns the first well-known label the object (or its pods) carries.
func (c *componentPrint) matchLabel(o *Object) (label, bool) {
	for _, l := range c.Labels {
		if l.in(o.Labels) || l.in(o.PodLabels) {
			return l, true
		}
	}
	return label{}, false
}

// match returns the container whose image is the component's, if the object is one.
func (c *componentPrint) match(o *Object) (Container, bool) {
	if !c.matchKind(o.Kind) && !(c.NodeProxy && o.Kind == KindPod) {
		return Container{}, false
	}
	for _, ct := range o.Containers {
		if !ParseImage(ct.Image).Is(c.Images...) {
			continue
		}
		if c.NeedLabel {
			if _, ok := c.matchLabel(o); !ok {
				return Container{}, false
			}
		}
		return ct, true
	}
	return Container{}, false
}

func (s *sidecarPrint) match(pod *Object) (Container, bool) {
	if s.PodLabel != "" && !(label{Key: s.PodLabel}).in(pod.Labels) {
		return Container{}, false
	}
	for _, ct := range pod.Containers {
		if contains(s.Names, ct.Name) && ParseImage(ct.Image).Is(s.Images...) {
			return ct, true
		}
	}
	return Container{}, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// identify scores the print against the cluster's objects.
func (p *meshPrint) identify(x *index) (Mesh, bool) {
	m := Mesh{Type: p.Type, Mode: p.DefaultMode}
	signals := map[string]bool{}
	roles := map[string]bool{}
	var primary *Component
	for i := range p.Components {
		c := &p.Components[i]
		for _, o := range x.workloads {
			ct, ok := c.match(o)
			if !ok {
				continue
			}
			img := ParseImage(ct.Image)
			comp := Component{Role: c.Role, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Image: ct.Image,
				Version: img.Version()}
			if comp.Version == "" {
				comp.Version = versionFromKeys(p.VersionKeys, o.Labels, o.Annotations, o.PodLabels, o.PodAnnotations)
			}
			m.ControlPlane = append(m.ControlPlane, comp)
			roles[c.Role] = true
			signals["image"] = true
			m.Evidence = append(m.Evidence, o.Kind+" "+o.Namespace+"/"+o.Name+" runs "+ct.Image)
			if l, ok := c.matchLabel(o); ok {
				signals["labels"] = true
				m.Evidence = append(m.Evidence, o.Kind+" "+o.Namespace+"/"+o.Name+" has label "+l.String())
			}
			if c.Mode != "" {
				m.Mode = c.Mode
			}
			if c.Primary && (primary == nil || comp.Namespace+"/"+comp.Name < primary.Namespace+"/"+primary.Name) {
				cp := comp
				primary = &cp
			}
		}
		if c.NodeProxy {
			for _, pod := range x.pods {
				if ct, ok := c.match(pod); ok {
					m.Proxies.add(ParseImage(ct.Image).Version())
				}
			}
		}
	}
	if !signals["image"] {
		return Mesh{}, false
	}
	if len(roles) > 1 {
		signals["components"] = true
	}
	if n := p.countCRDs(x); n > 0 {
		signals["crds"] = true
		m.Evidence = append(m.Evidence, plural(n, "CRD")+" of "+strings.Join(p.CRDGroups, ", "))
	}
	for _, w := range x.webhooks {
		for _, prefix := range p.Webhooks {
			if strings.HasPrefix(w.Name, prefix) {
				signals["webhook"] = true
				m.Evidence = append(m.Evidence, w.Kind+" "+w.Name)
				break
			}
		}
	}
	sidecars := 0
	for _, pod := range x.pods {
		for i := range p.Sidecars {
			s := &p.Sidecars[i]
			if ct, ok := s.match(pod); ok {
				v := ParseImage(ct.Image).Version()
				if v == "" {
					v = versionFromKeys(s.VersionKeys, pod.Labels, pod.Annotations)
				}
				m.Proxies.add(v)
				sidecars++
				break
			}
		}
	}
	if sidecars > 0 {
		signals["proxies"] = true
		m.Evidence = append(m.Evidence, plural(sidecars, "pod")+" with an injected proxy")
	}
	m.Score = len(signals)
	if m.Score < 2 {
		return Mesh{}, false
	}
	if primary == nil {
		primary = &m.ControlPlane[0]
	}
	m.Version, m.Namespace = primary.Version, primary.Namespace
	return m, true
}

func (p *meshPrint) countCRDs(x *index) int {
	n := 0
	for _, o := range x.crds {
		_, group, ok := strings.Cut(o.Name, ".")
		if !ok {
			continue
		}
		for _, g := range p.CRDGroups {
			if group == g || strings.HasSuffix(group, "."+g) {
				n++
				break
			}
		}
	}
	return n
}

func (p *Proxies) add(version string) {
	if version == "" {
		version = "unknown"
	}
	if p.Versions == nil {
		p.Versions = map[string]int{}
	}
	p.Count++
	p.Versions[version]++
}

func plural(n int, what string) string {
	s := strconv.Itoa(n) + " " + what
	if n != 1 {
		s += "s"
	}
	return s
}

// prints are every mesh's; each mesh's file adds its own.
var prints []*meshPrint

func register(p *meshPrint) bool {
	prints = append(prints, p)
	return true
}
