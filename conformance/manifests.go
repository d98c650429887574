package conformance

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshperf/meshperf/kube"
)

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	if ns != "" {
		u.SetNamespace(ns)
	}
	u.SetLabels(map[string]string{kube.ManagedByLabel: kube.FieldManager})
	return u
}

func withSpec(u *unstructured.Unstructured, spec map[string]any) *unstructured.Unstructured {
	u.Object["spec"] = spec
	return u
}

func port(name string, p int) map[string]any {
	return map[string]any{"name": name, "port": int64(p), "targetPort": int64(p), "protocol": "TCP", "appProtocol": appProtocol(name)}
}

func appProtocol(name string) string {
	if name == "grpc" {
		return "kubernetes.io/h2c"
	}
	return "http"
}

func servicePorts() []any {
	return []any{port("http", PortHTTP), port("http-alt", PortHTTPAlt), port("grpc", PortGRPC)}
}

// AppManifests are the sample apps of a test namespace: for each of app-a, app-b and
// app-c a ServiceAccount (its identity), a Deployment of `meshperf target` in the
// conformance role and a Service; and the Service "backend" over app-b and app-c.
func AppManifests(ns, image string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, app := range Apps {
		labels := map[string]any{"app": app}
		if app != "app-a" {
			labels["group"] = BackendService
		}
		out = append(out, obj("v1", "ServiceAccount", ns, app))
		dep := withSpec(obj("apps/v1", "Deployment", ns, app), map[string]any{
			"replicas": int64(1),
			"selector": map[string]any{"matchLabels": map[string]any{"app": app}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{
					"serviceAccountName": app,
					"containers": []any{map[string]any{
						"name":  "app",
						"image": image,
						"args": []any{"target", "--name", app, "--http-addr", ":" + strconv.Itoa(PortHTTP),
							"--extra-http-addr", ":" + strconv.Itoa(PortHTTPAlt), "--grpc-addr", ":" + strconv.Itoa(PortGRPC), "--tcp-addr", ""},
						"ports": []any{
							map[string]any{"name": "http", "containerPort": int64(PortHTTP)},
							map[string]any{"name": "http-alt", "containerPort": int64(PortHTTPAlt)},
							map[string]any{"name": "grpc", "containerPort": int64(PortGRPC)},
						},
						"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": int64(PortHTTP)}},
					}},
				},
			},
		})
		out = append(out, dep)
		out = append(out, withSpec(obj("v1", "Service", ns, app), map[string]any{
			"selector": map[string]any{"app": app}, "ports": servicePorts()}))
	}
	out = append(out, withSpec(obj("v1", "Service", ns, BackendService), map[string]any{
		"selector": map[string]any{"group": BackendService}, "ports": servicePorts()}))
	return out
}

// SMI objects.

// HTTPMatch is one match of an HTTPRouteGroup (specs.smi-spec.io/v1alpha4).
type HTTPMatch struct {
	Name      string
	PathRegex string
	Methods   []string
	Headers   map[string]string
}

func routeGroup(ns, name string, matches ...HTTPMatch) *unstructured.Unstructured {
	var ms []any
	for _, m := range matches {
		e := map[string]any{"name": m.Name}
		if m.PathRegex != "" {
			e["pathRegex"] = m.PathRegex
		}
		if len(m.Methods) > 0 {
			var methods []any
			for _, x := range m.Methods {
				methods = append(methods, x)
			}
			e["methods"] = methods
		}
		if len(m.Headers) > 0 {
			h := map[string]any{}
			for k, v := range m.Headers {
				h[k] = v
			}
			e["headers"] = h
		}
		ms = append(ms, e)
	}
	return withSpec(obj("specs.smi-spec.io/v1alpha4", "HTTPRouteGroup", ns, name), map[string]any{"matches": ms})
}

// trafficTarget allows sources to reach dest through the matches of a route group;
// port 0 means any port.
func trafficTarget(ns, name, dest string, port int, group string, matches []string, sources ...string) *unstructured.Unstructured {
	d := map[string]any{"kind": "ServiceAccount", "name": dest, "namespace": ns}
	if port != 0 {
		d["port"] = int64(port)
	}
	var src []any
	for _, s := range sources {
		src = append(src, map[string]any{"kind": "ServiceAccount", "name": s, "namespace": ns})
	}
	var ms []any
	for _, m := range matches {
		ms = append(ms, m)
	}
	return withSpec(obj("access.smi-spec.io/v1alpha3", "TrafficTarget", ns, name), map[string]any{
		"destination": d, "sources": src,
		"rules": []any{map[string]any{"kind": "HTTPRouteGroup", "name": group, "matches": ms}},
	})
}

func trafficSplit(ns, name, root string, weights map[string]int) *unstructured.Unstructured {
	var bs []any
	for _, svc := range sortedKeys(weights) {
		bs = append(bs, map[string]any{"service": svc, "weight": int64(weights[svc])})
	}
	return withSpec(obj("split.smi-spec.io/v1alpha4", "TrafficSplit", ns, name), map[string]any{"service": root, "backends": bs})
}

// Gateway API objects.

// Rule is one rule of an HTTPRoute or GRPCRoute.
type Rule struct {
	Matches  []any
	Filters  []any
	Backends map[string]int // service -> weight
}

func route(kind, ns, name, parent string, parentPort int, rules ...Rule) *unstructured.Unstructured {
	var rs []any
	for _, r := range rules {
		rule := map[string]any{}
		if len(r.Matches) > 0 {
			rule["matches"] = r.Matches
		}
		if len(r.Filters) > 0 {
			rule["filters"] = r.Filters
		}
		var refs []any
		for _, svc := range sortedKeys(r.Backends) {
			p := PortHTTP
			if kind == "GRPCRoute" {
				p = PortGRPC
			}
			refs = append(refs, map[string]any{"name": svc, "port": int64(p), "weight": int64(r.Backends[svc])})
		}
		if len(refs) > 0 {
			rule["backendRefs"] = refs
		}
		rs = append(rs, rule)
	}
	return withSpec(obj("gateway.networking.k8s.io/v1", kind, ns, name), map[string]any{
		"parentRefs": []any{map[string]any{"group": "", "kind": "Service", "name": parent, "port": int64(parentPort)}},
		"rules":      rs,
	})
}

func pathPrefix(p string) map[string]any {
	return map[string]any{"path": map[string]any{"type": "PathPrefix", "value": p}}
}

func headerMatch(name, value string) map[string]any {
	return map[string]any{"headers": []any{map[string]any{"type": "Exact", "name": name, "value": value}}}
}

func queryMatch(name, value string) map[string]any {
	return map[string]any{"queryParams": []any{map[string]any{"type": "Exact", "name": name, "value": value}}}
}

func methodMatch(m string) map[string]any { return map[string]any{"method": m} }

func headerModifier(set, add map[string]string, remove ...string) map[string]any {
	f := map[string]any{}
	kv := func(m map[string]string) []any {
		var out []any
		for _, k := range sortedKeys(m) {
			out = append(out, map[string]any{"name": k, "value": m[k]})
		}
		return out
	}
	if len(set) > 0 {
		f["set"] = kv(set)
	}
	if len(add) > 0 {
		f["add"] = kv(add)
	}
	if len(remove) > 0 {
		var r []any
		for _, x := range remove {
			r = append(r, x)
		}
		f["remove"] = r
	}
	return map[string]any{"type": "RequestHeaderModifier", "requestHeaderModifier": f}
}

func redirect(hostname, path string, code int) map[string]any {
	r := map[string]any{"statusCode": int64(code)}
	if hostname != "" {
		r["hostname"] = hostname
	}
	if path != "" {
		r["path"] = map[string]any{"type": "ReplaceFullPath", "replaceFullPath": path}
	}
	return map[string]any{"type": "RequestRedirect", "requestRedirect": r}
}

func fmtCounts(m map[string]int) string {
	s := ""
	for _, k := range sortedKeys(m) {
		if s != "" {
			s += " "
		}
		name := k
		if name == "" {
			name = "(none)"
		}
		s += fmt.Sprintf("%s=%d", name, m[k])
	}
	if s == "" {
		return "nothing"
	}
	return s
}
