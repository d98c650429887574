package fingerprint

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

const digest = "sha256:4e1cbbc4b0bc3b8e3e3c9a4b1b9e4d2a4b0f8f3e6c2d1a9b8c7d6e5f4a3b2c1d0"

// want is what a test expects of one mesh.
type want struct {
	Type, Mode, Version, Namespace string
	Roles                          []string // control-plane roles, sorted
	Proxies                        Proxies
}

func got(m Mesh) want {
	w := want{Type: m.Type, Mode: m.Mode, Version: m.Version, Namespace: m.Namespace, Proxies: m.Proxies}
	seen := map[string]bool{}
	for _, c := range m.ControlPlane {
		if !seen[c.Role] {
			seen[c.Role] = true
			w.Roles = append(w.Roles, c.Role)
		}
	}
	sort.Strings(w.Roles)
	return w
}

func proxies(versions map[string]int) Proxies {
	n := 0
	for _, c := range versions {
		n += c
	}
	if n == 0 {
		return Proxies{}
	}
	return Proxies{Count: n, Versions: versions}
}

var istioCRDs = crds("virtualservices.networking.istio.io", "destinationrules.networking.istio.io",
	"peerauthentications.security.istio.io", "telemetries.telemetry.istio.io")

func TestIdentifyMeshes(t *testing.T) {
	istiodLabels := l("app", "istiod", "istio", "pilot", "istio.io/rev", "default")
	cases := []struct {
		name    string
		objects []Object
		want    []want
	}{{
		name: "istio sidecar mode as istioctl installs 1.24.2",
		objects: join(istioCRDs, objs(
			deployment("istio-system", "istiod", istiodLabels, "docker.io/istio/pilot:1.24.2"),
			deployment("istio-system", "istio-ingressgateway", l("istio", "ingressgateway", "app", "istio-ingressgateway"), "docker.io/istio/proxyv2:1.24.2"),
			hook(KindMutatingHook, "istio-sidecar-injector"),
			hook(KindValidatingHook, "istio-validator-istio-system"),
			pod("shop", "cart-1", l("app", "cart", "security.istio.io/tlsMode", "istio"),
				ct("cart", "shop/cart:3"), Container{Name: "istio-init", Image: "docker.io/istio/proxyv2:1.24.2", Init: true},
				ct("istio-proxy", "docker.io/istio/proxyv2:1.24.2")),
			// A native sidecar: istio-proxy as an init container with restartPolicy Always.
			pod("shop", "web-1", l("app", "web"), ct("web", "shop/web:1"),
				Container{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.24.2", Init: true}),
			pod("shop", "old-1", l("app", "old"), ct("old", "shop/old:1"), ct("istio-proxy", "docker.io/istio/proxyv2:1.23.1")),
			pod("shop", "plain-1", l("app", "plain"), ct("plain", "shop/plain:1")),
		)),
		want: []want{{Type: "istio", Mode: "sidecar", Version: "1.24.2", Namespace: "istio-system", Roles: []string{"gateway", "istiod"},
			Proxies: proxies(map[string]int{"1.24.2": 2, "1.23.1": 1})}},
	}, {
		name: "istio ambient mode, distroless images from gcr.io/istio-release",
		objects: join(istioCRDs, objs(
			deployment("istio-system", "istiod", istiodLabels, "gcr.io/istio-release/pilot:1.25.1-distroless"),
			daemonSet("istio-system", "istio-cni-node", l("k8s-app", "istio-cni-node"), "gcr.io/istio-release/install-cni:1.25.1-distroless"),
			daemonSet("istio-system", "ztunnel", l("app", "ztunnel"), "gcr.io/istio-release/ztunnel:1.25.1-distroless"),
			deployment("shop", "waypoint", l("gateway.istio.io/managed", "istio.io-mesh-controller", "istio.io/waypoint-for", "service"),
				"gcr.io/istio-release/proxyv2:1.25.1-distroless"),
			pod("istio-system", "ztunnel-a", l("app", "ztunnel"), ct("istio-proxy", "gcr.io/istio-release/ztunnel:1.25.1-distroless")),
			pod("istio-system", "ztunnel-b", l("app", "ztunnel"), ct("istio-proxy", "gcr.io/istio-release/ztunnel:1.25.1-distroless")),
			pod("shop", "waypoint-1", l("gateway.istio.io/managed", "istio.io-mesh-controller"), ct("istio-proxy", "gcr.io/istio-release/proxyv2:1.25.1-distroless")),
			pod("shop", "cart-1", l("app", "cart"), ct("cart", "shop/cart:3")),
		)),
		want: []want{{Type: "istio", Mode: "ambient", Version: "1.25.1", Namespace: "istio-system",
			Roles: []string{"istio-cni", "istiod", "waypoint", "ztunnel"}, Proxies: proxies(map[string]int{"1.25.1": 3})}},
	}, {
		name: "istio in a namespace of its own, pinned by digest: the version from its labels",
		objects: join(istioCRDs, objs(
			deployment("mesh-prod", "istiod-1-24-2", l("app", "istiod", "istio.io/rev", "1-24-2", "app.kubernetes.io/version", "1.24.2"),
				"registry.corp.example/mirror/istio/pilot@"+digest),
			hook(KindMutatingHook, "istio-sidecar-injector-1-24-2"),
			pod("shop", "cart-1", l("app", "cart", "istio.io/rev", "1-24-2"), ct("istio-proxy", "registry.corp.example/mirror/istio/proxyv2@"+digest)),
		)),
		want: []want{{Type: "istio", Mode: "sidecar", Version: "1.24.2", Namespace: "mesh-prod", Roles: []string{"istiod"},
			Proxies: proxies(map[string]int{"1.24.2": 1})}},
	}, {
		name: "a deployment named istiod running another image is not Istio, even beside Istio's CRDs",
		objects: join(istioCRDs, objs(
			deployment("istio-system", "istiod", istiodLabels, "ghcr.io/acme/istiod:2.0.0"),
			hook(KindMutatingHook, "istio-sidecar-injector"),
		)),
		want: nil,
	}, {
		name:    "Istio's image alone, nothing else agreeing, is not enough",
		objects: objs(deployment("tools", "copy", nil, "docker.io/istio/pilot:1.24.2")),
		want:    nil,
	}, {
		name: "linkerd stable as its CLI installs it",
		objects: join(crds("servers.policy.linkerd.io", "serviceprofiles.linkerd.io", "httproutes.policy.linkerd.io"), objs(
			deployment("linkerd", "linkerd-destination", l("linkerd.io/control-plane-component", "destination", "linkerd.io/control-plane-ns", "linkerd"),
				"cr.l5d.io/linkerd/controller:stable-2.14.10", "cr.l5d.io/linkerd/policy-controller:stable-2.14.10", "cr.l5d.io/linkerd/proxy:stable-2.14.10"),
			deployment("linkerd", "linkerd-identity", l("linkerd.io/control-plane-component", "identity"),
				"cr.l5d.io/linkerd/controller:stable-2.14.10", "cr.l5d.io/linkerd/proxy:stable-2.14.10"),
			deployment("linkerd", "linkerd-proxy-injector", l("linkerd.io/control-plane-component", "proxy-injector"),
				"cr.l5d.io/linkerd/controller:stable-2.14.10", "cr.l5d.io/linkerd/proxy:stable-2.14.10"),
			hook(KindMutatingHook, "linkerd-proxy-injector-webhook-config"),
			pod("emojivoto", "web-1", l("linkerd.io/proxy-version", "stable-2.14.10"), ct("web", "buoyantio/emojivoto-web:v11"),
				Container{Name: "linkerd-init", Image: "cr.l5d.io/linkerd/proxy-init:v2.2.3", Init: true}, ct("linkerd-proxy", "cr.l5d.io/linkerd/proxy:stable-2.14.10")),
			pod("emojivoto", "voting-1", l("linkerd.io/proxy-version", "stable-2.14.9"), ct("voting", "buoyantio/emojivoto-voting:v11"),
				ct("linkerd-proxy", "cr.l5d.io/linkerd/proxy@"+digest)),
		)),
		want: []want{{Type: "linkerd", Mode: "sidecar", Version: "stable-2.14.10", Namespace: "linkerd",
			Roles: []string{"destination", "identity", "proxy-injector"}, Proxies: proxies(map[string]int{"stable-2.14.10": 1, "stable-2.14.9": 1})}},
	}, {
		name: "linkerd edge in another namespace, pinned by digest",
		objects: join(crds("servers.policy.linkerd.io"), objs(
			deployment("l5d", "linkerd-destination", l("linkerd.io/control-plane-component", "destination", "app.kubernetes.io/version", "edge-24.11.8"),
				"cr.l5d.io/linkerd/controller@"+digest),
		)),
		want: []want{{Type: "linkerd", Mode: "sidecar", Version: "edge-24.11.8", Namespace: "l5d", Roles: []string{"destination"}}},
	}, {
		name: "cilium with its envoy DaemonSet, tag and digest as the chart pins them",
		objects: join(crds("ciliumnetworkpolicies.cilium.io", "ciliumendpoints.cilium.io"), objs(
			daemonSet("kube-system", "cilium", l("k8s-app", "cilium", "app.kubernetes.io/part-of", "cilium"), "quay.io/cilium/cilium:v1.16.5@"+digest),
			deployment("kube-system", "cilium-operator", l("io.cilium/app", "operator", "name", "cilium-operator"), "quay.io/cilium/operator-generic:v1.16.5@"+digest),
			daemonSet("kube-system", "cilium-envoy", l("k8s-app", "cilium-envoy"), "quay.io/cilium/cilium-envoy:v1.30.8-1733837904-eaae5aca0fb988583e5617170a65ac5aa51c0aa8@"+digest),
			pod("kube-system", "cilium-envoy-a", l("k8s-app", "cilium-envoy"), ct("cilium-envoy", "quay.io/cilium/cilium-envoy:v1.30.8-1733837904-eaae5aca0fb988583e5617170a65ac5aa51c0aa8@"+digest)),
		)),
		want: []want{{Type: "cilium", Mode: "node", Version: "1.16.5", Namespace: "kube-system", Roles: []string{"agent", "envoy", "operator"},
			Proxies: proxies(map[string]int{"1.30.8-1733837904-eaae5aca0fb988583e5617170a65ac5aa51c0aa8": 1})}},
	}, {
		name: "kuma as kumactl installs it",
		objects: join(crds("meshes.kuma.io", "meshtrafficpermissions.kuma.io"), objs(
			deployment("kuma-system", "kuma-control-plane", l("app", "kuma-control-plane", "app.kubernetes.io/name", "kuma"), "docker.io/kumahq/kuma-cp:2.9.2"),
			hook(KindMutatingHook, "kuma-admission-mutating-webhook-configuration"),
			pod("demo", "redis-1", l("app", "redis"), ct("redis", "redis:7"), ct("kuma-sidecar", "docker.io/kumahq/kuma-dp:2.9.2"),
				Container{Name: "kuma-init", Image: "docker.io/kumahq/kuma-init:2.9.2", Init: true}),
		)),
		want: []want{{Type: "kuma", Mode: "sidecar", Version: "2.9.2", Namespace: "kuma-system", Roles: []string{"control-plane"},
			Proxies: proxies(map[string]int{"2.9.2": 1})}},
	}, {
		name: "consul as the consul-k8s chart installs it",
		objects: join(crds("servicedefaults.consul.hashicorp.com", "serviceintentions.consul.hashicorp.com"), objs(
			statefulSet("consul", "consul-server", l("app", "consul", "component", "server"), "hashicorp/consul:1.20.1"),
			deployment("consul", "consul-connect-injector", l("app", "consul", "component", "connect-injector"), "hashicorp/consul-k8s-control-plane:1.6.1"),
			hook(KindMutatingHook, "consul-connect-injector"),
			pod("api", "api-1", l("consul.hashicorp.com/connect-inject-status", "injected"), ct("api", "nicholasjackson/fake-service:v0.26.2"),
				ct("consul-dataplane", "hashicorp/consul-dataplane:1.6.1")),
		)),
		want: []want{{Type: "consul", Mode: "sidecar", Version: "1.20.1", Namespace: "consul", Roles: []string{"connect-injector", "server"},
			Proxies: proxies(map[string]int{"1.6.1": 1})}},
	}, {
		name: "traefik mesh: its proxies are a labelled traefik DaemonSet; a traefik ingress is no proxy",
		objects: objs(
			deployment("traefik-mesh", "traefik-mesh-controller", l("app", "maesh", "component", "controller"), "traefik/mesh:v1.4.8"),
			daemonSet("traefik-mesh", "traefik-mesh-proxy", l("app", "maesh", "component", "maesh-mesh"), "traefik:v2.11"),
			pod("traefik-mesh", "traefik-mesh-proxy-a", l("app", "maesh", "component", "maesh-mesh"), ct("traefik-mesh-proxy", "traefik:v2.11")),
			pod("traefik-mesh", "traefik-mesh-proxy-b", l("app", "maesh", "component", "maesh-mesh"), ct("traefik-mesh-proxy", "traefik:v2.11")),
			deployment("ingress", "traefik", l("app.kubernetes.io/name", "traefik"), "docker.io/traefik:v3.2.0"),
			pod("ingress", "traefik-1", l("app.kubernetes.io/name", "traefik"), ct("traefik", "docker.io/traefik:v3.2.0")),
		),
		want: []want{{Type: "traefik_mesh", Mode: "node", Version: "1.4.8", Namespace: "traefik-mesh", Roles: []string{"controller", "proxy"},
			Proxies: proxies(map[string]int{"2.11": 2})}},
	}, {
		name: "open service mesh as osm install lays it out",
		objects: join(crds("meshconfigs.config.openservicemesh.io", "egresses.policy.openservicemesh.io"), objs(
			deployment("osm-system", "osm-controller", l("app", "osm-controller", "app.kubernetes.io/name", "openservicemesh.io"), "openservicemesh/osm-controller:v1.2.4"),
			deployment("osm-system", "osm-injector", l("app", "osm-injector"), "openservicemesh/osm-injector:v1.2.4"),
			deployment("osm-system", "osm-bootstrap", l("app", "osm-bootstrap"), "openservicemesh/osm-bootstrap:v1.2.4"),
			hook(KindMutatingHook, "osm-webhook-osm"),
			pod("bookstore", "bookstore-1", l("app", "bookstore", "osm-proxy-uuid", "5b9f"), ct("bookstore", "openservicemesh/bookstore:v1.2.4"),
				ct("envoy", "envoyproxy/envoy-distroless:v1.22.2")),
			// An envoy elsewhere, not injected by OSM, is not its proxy.
			pod("edge", "envoy-1", l("app", "envoy"), ct("envoy", "envoyproxy/envoy:v1.31.0")),
		)),
		want: []want{{Type: "open_service_mesh", Mode: "sidecar", Version: "1.2.4", Namespace: "osm-system",
			Roles: []string{"bootstrap", "controller", "injector"}, Proxies: proxies(map[string]int{"1.22.2": 1})}},
	}, {
		name: "nginx service mesh as nginx-meshctl installs it",
		objects: join(crds("ratelimits.specs.smi.nginx.com", "circuitbreakers.specs.smi.nginx.com"), objs(
			deployment("nginx-mesh", "nginx-mesh-api", l("app.kubernetes.io/name", "nginx-mesh-api", "app.kubernetes.io/part-of", "nginx-service-mesh"),
				"docker-registry.nginx.com/nsm/nginx-mesh-api:2.0.0"),
			deployment("nginx-mesh", "nginx-mesh-metrics", l("app.kubernetes.io/name", "nginx-mesh-metrics"), "docker-registry.nginx.com/nsm/nginx-mesh-metrics:2.0.0"),
			pod("shop", "web-1", l("app", "web"), ct("web", "shop/web:1"), ct("nginx-mesh-sidecar", "docker-registry.nginx.com/nsm/nginx-mesh-sidecar:2.0.0"),
				Container{Name: "nginx-mesh-init", Image: "docker-registry.nginx.com/nsm/nginx-mesh-init:2.0.0", Init: true}),
		)),
		want: []want{{Type: "nginx_service_mesh", Mode: "sidecar", Version: "2.0.0", Namespace: "nginx-mesh", Roles: []string{"api", "metrics"},
			Proxies: proxies(map[string]int{"2.0.0": 1})}},
	}, {
		name: "two linkerd control planes in two namespaces are two meshes; proxies go to the one their label names",
		objects: join(crds("servers.policy.linkerd.io"), objs(
			deployment("l5d-a", "linkerd-destination", l("linkerd.io/control-plane-component", "destination"), "cr.l5d.io/linkerd/controller:stable-2.14.10"),
			deployment("l5d-b", "linkerd-destination", l("linkerd.io/control-plane-component", "destination"), "cr.l5d.io/linkerd/controller:edge-24.11.8"),
			pod("app", "web-1", l("linkerd.io/control-plane-ns", "l5d-b"), ct("linkerd-proxy", "cr.l5d.io/linkerd/proxy:edge-24.11.8")),
			pod("app", "web-2", l("linkerd.io/control-plane-ns", "l5d-b"), ct("linkerd-proxy", "cr.l5d.io/linkerd/proxy:edge-24.11.8")),
			pod("l5d-a", "tap-1", nil, ct("linkerd-proxy", "cr.l5d.io/linkerd/proxy:stable-2.14.10")),
		)),
		want: []want{
			{Type: "linkerd", Mode: "sidecar", Version: "stable-2.14.10", Namespace: "l5d-a", Roles: []string{"destination"},
				Proxies: proxies(map[string]int{"stable-2.14.10": 1})},
			{Type: "linkerd", Mode: "sidecar", Version: "edge-24.11.8", Namespace: "l5d-b", Roles: []string{"destination"},
				Proxies: proxies(map[string]int{"edge-24.11.8": 2})},
		},
	}, {
		name: "two meshes in one cluster are told apart",
		objects: join(istioCRDs, crds("meshes.kuma.io"), objs(
			deployment("istio-system", "istiod", istiodLabels, "docker.io/istio/pilot:1.24.2"),
			deployment("kuma-system", "kuma-control-plane", l("app", "kuma-control-plane"), "kumahq/kuma-cp:2.9.2"),
		)),
		want: []want{
			{Type: "istio", Mode: "sidecar", Version: "1.24.2", Namespace: "istio-system", Roles: []string{"istiod"}},
			{Type: "kuma", Mode: "sidecar", Version: "2.9.2", Namespace: "kuma-system", Roles: []string{"control-plane"}},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := Identify(tc.objects)
			var gotMeshes []want
			for _, m := range rep.Meshes {
				gotMeshes = append(gotMeshes, got(m))
				if m.Score < 2 || len(m.Evidence) == 0 {
					t.Errorf("%s: score %d, evidence %q: a verdict needs two signals and says why", m.Type, m.Score, m.Evidence)
				}
			}
			if !reflect.DeepEqual(gotMeshes, tc.want) {
				t.Errorf("meshes:\n got %+v\nwant %+v\nevidence: %s", gotMeshes, tc.want, evidence(rep))
			}
		})
	}
}

func evidence(r Report) string {
	var b strings.Builder
	for _, m := range r.Meshes {
		b.WriteString(m.Type + ": " + strings.Join(m.Evidence, "; ") + "\n")
	}
	return b.String()
}

func TestIdentifyMonitoring(t *testing.T) {
	objects := objs(
		statefulSet("monitoring", "prometheus-kps-prometheus", l("app.kubernetes.io/name", "prometheus", "operator.prometheus.io/name", "kps-prometheus"),
			"quay.io/prometheus/prometheus:v2.54.1", "quay.io/prometheus-operator/prometheus-config-reloader:v0.76.0"),
		Object{Kind: KindService, Namespace: "monitoring", Name: "prometheus-operated", Service: &ServiceSpec{Headless: true,
			Selector: l("app.kubernetes.io/name", "prometheus"), Ports: []ServicePort{{Name: "web", Port: 9090, TargetPort: "web"}}}},
		Object{Kind: KindService, Namespace: "monitoring", Name: "kps-prometheus", Service: &ServiceSpec{
			Selector: l("app.kubernetes.io/name", "prometheus", "operator.prometheus.io/name", "kps-prometheus"),
			Ports:    []ServicePort{{Name: "reloader-web", Port: 8080, TargetPort: "reloader-web"}, {Name: "http-web", Port: 9090, TargetPort: "9090"}}}},
		deployment("monitoring", "kps-grafana", l("app.kubernetes.io/name", "grafana"), "docker.io/grafana/grafana:11.2.0", "quay.io/kiwigrid/k8s-sidecar:1.27.4"),
		Object{Kind: KindService, Namespace: "monitoring", Name: "kps-grafana", Service: &ServiceSpec{
			Selector: l("app.kubernetes.io/name", "grafana"), Ports: []ServicePort{{Name: "http-web", Port: 80, TargetPort: "3000"}}}},
		// A Service of the same selector in another namespace reaches other pods.
		Object{Kind: KindService, Namespace: "other", Name: "a-grafana", Service: &ServiceSpec{
			Selector: l("app.kubernetes.io/name", "grafana"), Ports: []ServicePort{{Port: 3000}}}},
		deployment("tools", "prometheus", l("app", "prometheus"), "prom/prometheus@"+digest),
		deployment("tools", "node-exporter", l("app", "node-exporter"), "quay.io/prometheus/node-exporter:v1.8.2"),
	)
	want := []Monitoring{
		{Kind: "grafana", Namespace: "monitoring", Name: "kps-grafana", Version: "11.2.0", Service: "kps-grafana", Port: 80},
		{Kind: "prometheus", Namespace: "monitoring", Name: "prometheus-kps-prometheus", Version: "2.54.1", Service: "kps-prometheus", Port: 9090},
		{Kind: "prometheus", Namespace: "tools", Name: "prometheus"},
	}
	if got := Identify(objects).Monitoring; !reflect.DeepEqual(got, want) {
		t.Errorf("monitoring:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseImage(t *testing.T) {
	cases := []struct {
		ref     string
		want    Image
		version string
	}{
		{"istio/pilot:1.24.2", Image{Registry: "docker.io", Path: "istio/pilot", Tag: "1.24.2"}, "1.24.2"},
		{"gcr.io/istio-release/pilot:1.25.1-distroless", Image{Registry: "gcr.io", Path: "istio-release/pilot", Tag: "1.25.1-distroless"}, "1.25.1"},
		{"quay.io/cilium/cilium:v1.16.5@" + digest, Image{Registry: "quay.io", Path: "cilium/cilium", Tag: "v1.16.5", Digest: digest}, "1.16.5"},
		{"localhost:5000/istio/pilot@" + digest, Image{Registry: "localhost:5000", Path: "istio/pilot", Digest: digest}, ""},
		{"docker.io/library/traefik:v2.11", Image{Registry: "docker.io", Path: "traefik", Tag: "v2.11"}, "2.11"},
		{"traefik", Image{Registry: "docker.io", Path: "traefik"}, ""},
		{"nginx:latest", Image{Registry: "docker.io", Path: "nginx", Tag: "latest"}, ""},
		{"cr.l5d.io/linkerd/proxy:edge-24.11.8", Image{Registry: "cr.l5d.io", Path: "linkerd/proxy", Tag: "edge-24.11.8"}, "edge-24.11.8"},
		{"", Image{Registry: "docker.io"}, ""},
	}
	for _, tc := range cases {
		img := ParseImage(tc.ref)
		if img != tc.want || img.Version() != tc.version {
			t.Errorf("ParseImage(%q) = %+v version %q, want %+v version %q", tc.ref, img, img.Version(), tc.want, tc.version)
		}
	}
	if !ParseImage("mirror.example/team/istio/pilot:1").Is("istio/pilot") || ParseImage("acme/notistio/pilot:1").Is("istio/pilot") {
		t.Error("a mirror's prefix must match, a look-alike path must not")
	}
}

func TestVersionFromKeys(t *testing.T) {
	cases := []struct {
		key, value, want string
	}{
		{"app.kubernetes.io/version", "v1.24.2", "1.24.2"},
		{"helm.sh/chart", "istiod-1.24.2", "1.24.2"},
		{"helm.sh/chart", "cilium-1.16.5-rc.1", "1.16.5-rc.1"},
		{"helm.sh/chart", "istiod", ""},
		{"istio.io/rev", "1-24-2", "1.24.2"},
		{"istio.io/rev", "canary", ""},
		{"linkerd.io/created-by", "linkerd/helm stable-2.14.10", "stable-2.14.10"},
		{"linkerd.io/created-by", "   ", ""},
	}
	for _, tc := range cases {
		if got := versionFromKeys([]string{tc.key}, map[string]string{tc.key: tc.value}); got != tc.want {
			t.Errorf("%s=%q: %q, want %q", tc.key, tc.value, got, tc.want)
		}
	}
}
