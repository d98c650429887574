package fingerprint

import (
	"sort"
	"strconv"
)

// monitoringPrint is how a Prometheus or Grafana is recognised: its image, and the
// port it serves on, to pick the Service port that reaches it.
type monitoringPrint struct {
	Kind   string
	Images []string
	// Ports are the container port's number and the names charts give it.
	Ports []string
}

var monitoringPrints = []monitoringPrint{
	{Kind: "prometheus", Images: []string{"prom/prometheus", "prometheus/prometheus"}, Ports: []string{"9090", "web", "http-web"}},
	{Kind: "grafana", Images: []string{"grafana/grafana", "grafana/grafana-oss", "grafana/grafana-enterprise"},
		Ports: []string{"3000", "grafana", "http-web", "service"}},
}

// findMonitoring names the Prometheus and Grafana workloads and the Service (and
// port) that reaches each: a Service in the same namespace whose selector picks the
// workload's pods, preferring one with a cluster IP.
func findMonitoring(x *index) []Monitoring {
	var out []Monitoring
	for _, o := range x.workloads {
		for _, mp := range monitoringPrints {
			var img Image
			found := false
			for _, ct := range o.Containers {
				if i := ParseImage(ct.Image); i.Is(mp.Images...) {
					img, found = i, true
					break
				}
			}
			if !found {
				continue
			}
			m := Monitoring{Kind: mp.Kind, Namespace: o.Namespace, Name: o.Name, Version: img.Version()}
			if m.Version == "" {
				m.Version = versionFromKeys([]string{"app.kubernetes.io/version"}, o.Labels, o.PodLabels)
			}
			if svc := serviceFor(x, o); svc != nil {
				m.Service, m.Port = svc.Name, pickPort(svc.Service.Ports, mp.Ports)
			}
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}

func serviceFor(x *index, workload *Object) *Object {
	var best *Object
	for _, s := range x.services {
		if s.Namespace != workload.Namespace || s.Service == nil || !selects(s.Service.Selector, workload.PodLabels) {
			continue
		}
		switch {
		case best == nil,
			best.Service.Headless && !s.Service.Headless,
			best.Service.Headless == s.Service.Headless && s.Name < best.Name:
			best = s
		}
	}
	return best
}

// selects is a Service's selector picking pods with these labels (an empty selector
// picks nothing: such a Service has hand-made endpoints).
func selects(selector, podLabels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if podLabels[k] != v {
			return false
		}
	}
	return true
}

// pickPort returns the Service port that reaches the known container port (by target
// port number or name, or by the port's own name or number), else the first.
func pickPort(ports []ServicePort, known []string) int32 {
	for _, k := range known {
		for _, p := range ports {
			if p.TargetPort == k || p.Name == k || strconv.Itoa(int(p.Port)) == k {
				return p.Port
			}
		}
	}
	if len(ports) > 0 {
		return ports[0].Port
	}
	return 0
}
