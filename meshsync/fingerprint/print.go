package fingerprint

import (
	"sort"
	"strconv"
	"strings"
)

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

// install is one installation of a mesh: its control plane in one namespace.
type install struct {
	m        Mesh
	signals  map[string]bool
	roles    map[string]bool
	primary  *Component
	sidecars int
}

// identify scores the print against the cluster's objects: one Mesh per namespace
// running a primary component (two Istio control planes in two namespaces are two
// meshes), each named only when two kinds of signal agree.
func (p *meshPrint) identify(x *index) []Mesh {
	type match struct {
		c  *componentPrint
		o  *Object
		ct Container
	}
	var matches []match
	for i := range p.Components {
		for _, o := range x.workloads {
			if ct, ok := p.Components[i].match(o); ok {
				matches = append(matches, match{&p.Components[i], o, ct})
			}
		}
	}
	if len(matches) == 0 {
		return nil
	}
	installs := map[string]*install{}
	var order []string
	open := func(ns string) {
		if installs[ns] == nil {
			installs[ns] = &install{m: Mesh{Type: p.Type, Mode: p.DefaultMode}, signals: map[string]bool{}, roles: map[string]bool{}}
			order = append(order, ns)
		}
	}
	for _, mt := range matches {
		if mt.c.Primary {
			open(mt.o.Namespace)
		}
	}
	if len(order) == 0 {
		open(matches[0].o.Namespace)
	}
	sort.Strings(order)
	// Components elsewhere (waypoints in an application's namespace) and proxies go
	// to the installation of their own namespace, or one a label names, or the first.
	home := func(o *Object) *install {
		if in := installs[o.Namespace]; in != nil || len(order) == 1 {
			if in == nil {
				in = installs[order[0]]
			}
			return in
		}
		for _, m := range []map[string]string{o.Labels, o.Annotations} {
			for _, v := range m {
				if in := installs[v]; in != nil {
					return in
				}
			}
		}
		return installs[order[0]]
	}
	for _, mt := range matches {
		home(mt.o).addComponent(p, mt.c, mt.o, mt.ct)
	}
	for i := range p.Components {
		if c := &p.Components[i]; c.NodeProxy {
			for _, pod := range x.pods {
				if ct, ok := c.match(pod); ok {
					home(pod).m.Proxies.add(ParseImage(ct.Image).Version())
				}
			}
		}
	}
	for _, pod := range x.pods {
		for i := range p.Sidecars {
			s := &p.Sidecars[i]
			if ct, ok := s.match(pod); ok {
				v := ParseImage(ct.Image).Version()
				if v == "" {
					v = versionFromKeys(s.VersionKeys, pod.Labels, pod.Annotations)
				}
				in := home(pod)
				in.m.Proxies.add(v)
				in.sidecars++
				break
			}
		}
	}
	// CRDs and webhook configurations are the cluster's: they back every installation.
	var shared []string
	if n := p.countCRDs(x); n > 0 {
		shared = append(shared, plural(n, "CRD")+" of "+strings.Join(p.CRDGroups, ", "))
	}
	hooked := false
	for _, w := range x.webhooks {
		for _, prefix := range p.Webhooks {
			if strings.HasPrefix(w.Name, prefix) {
				hooked = true
				shared = append(shared, w.Kind+" "+w.Name)
				break
			}
		}
	}
	var out []Mesh
	for _, ns := range order {
		in := installs[ns]
		if len(in.roles) > 1 {
			in.signals["components"] = true
		}
		if p.countCRDs(x) > 0 {
			in.signals["crds"] = true
		}
		if hooked {
			in.signals["webhook"] = true
		}
		if in.sidecars > 0 {
			in.signals["proxies"] = true
			in.m.Evidence = append(in.m.Evidence, plural(in.sidecars, "pod")+" with an injected proxy")
		}
		in.m.Evidence = append(in.m.Evidence, shared...)
		in.m.Score = len(in.signals)
		if in.m.Score < 2 {
			continue
		}
		primary := in.primary
		if primary == nil {
			primary = &in.m.ControlPlane[0]
		}
		in.m.Version, in.m.Namespace = primary.Version, primary.Namespace
		out = append(out, in.m)
	}
	return out
}

func (in *install) addComponent(p *meshPrint, c *componentPrint, o *Object, ct Container) {
	comp := Component{Role: c.Role, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Image: ct.Image,
		Version: ParseImage(ct.Image).Version()}
	if comp.Version == "" {
		comp.Version = versionFromKeys(p.VersionKeys, o.Labels, o.Annotations, o.PodLabels, o.PodAnnotations)
	}
	in.m.ControlPlane = append(in.m.ControlPlane, comp)
	in.roles[c.Role] = true
	in.signals["image"] = true
	in.m.Evidence = append(in.m.Evidence, o.Kind+" "+o.Namespace+"/"+o.Name+" runs "+ct.Image)
	if l, ok := c.matchLabel(o); ok {
		in.signals["labels"] = true
		in.m.Evidence = append(in.m.Evidence, o.Kind+" "+o.Namespace+"/"+o.Name+" has label "+l.String())
	}
	if c.Mode != "" {
		in.m.Mode = c.Mode
	}
	if c.Primary && (in.primary == nil || comp.Name < in.primary.Name) {
		cp := comp
		in.primary = &cp
	}
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
