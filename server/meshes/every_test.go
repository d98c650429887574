package meshes

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/storetest"
)

// layout is one mesh's control plane as its installer lays it out.
type layout struct {
	mesh, cluster       string
	version, mode       string
	crdPlural, crdGroup string // the CRD's group is the test's own under the mesh's
	webhook             string
	apply               func(c *testCluster, ns string)
}

var layouts = []layout{
	{mesh: "istio", cluster: "c1", version: "1.25.1", mode: "ambient", crdPlural: "fpwaypoints", crdGroup: "networking.istio.io", webhook: "istio-revision-tag-",
		apply: func(c *testCluster, ns string) {
			c.deployment(ns, "istiod", 1, map[string]string{"app": "istiod", "istio": "pilot"}, container{"discovery", "gcr.io/istio-release/pilot:1.25.1-distroless"})
			c.daemonSet(ns, "istio-cni-node", map[string]string{"k8s-app": "istio-cni-node"}, container{"install-cni", "gcr.io/istio-release/install-cni:1.25.1-distroless"})
			c.daemonSet(ns, "ztunnel", map[string]string{"app": "ztunnel"}, container{"istio-proxy", "gcr.io/istio-release/ztunnel:1.25.1-distroless"})
		}},
	{mesh: "cilium", cluster: "c2", version: "1.16.5", mode: "node", crdPlural: "fpciliumpolicies", crdGroup: "cilium.io",
		apply: func(c *testCluster, ns string) {
			c.daemonSet(ns, "cilium", map[string]string{"k8s-app": "cilium"}, container{"cilium-agent", "quay.io/cilium/cilium:v1.16.5@" + pinned})
			c.deployment(ns, "cilium-operator", 1, map[string]string{"io.cilium/app": "operator", "name": "cilium-operator"},
				container{"cilium-operator", "quay.io/cilium/operator-generic:v1.16.5@" + pinned})
		}},
	{mesh: "kuma", cluster: "c1", version: "2.9.2", mode: "sidecar", crdPlural: "fpmeshes", crdGroup: "kuma.io", webhook: "kuma-admission-mutating-webhook-configuration-",
		apply: func(c *testCluster, ns string) {
			c.deployment(ns, "kuma-control-plane", 1, map[string]string{"app": "kuma-control-plane", "app.kubernetes.io/name": "kuma"},
				container{"control-plane", "docker.io/kumahq/kuma-cp:2.9.2"})
		}},
	{mesh: "consul", cluster: "c2", version: "1.20.1", mode: "sidecar", crdPlural: "fpservicedefaults", crdGroup: "consul.hashicorp.com", webhook: "consul-connect-injector-",
		apply: func(c *testCluster, ns string) {
			c.statefulSet(ns, "consul-server", map[string]string{"app": "consul", "component": "server"}, container{"consul", "hashicorp/consul:1.20.1"})
			c.deployment(ns, "consul-connect-injector", 1, map[string]string{"app": "consul", "component": "connect-injector"},
				container{"sidecar-injector", "hashicorp/consul-k8s-control-plane:1.6.1"})
		}},
	{mesh: "traefik_mesh", cluster: "c1", version: "1.4.8", mode: "node",
		apply: func(c *testCluster, ns string) {
			c.deployment(ns, "traefik-mesh-controller", 1, map[string]string{"app": "maesh", "component": "controller"}, container{"traefik-mesh-controller", "traefik/mesh:v1.4.8"})
			c.daemonSet(ns, "traefik-mesh-proxy", map[string]string{"app": "maesh", "component": "maesh-mesh"}, container{"traefik-mesh-proxy", "traefik:v2.11"})
		}},
	{mesh: "open_service_mesh", cluster: "c2", version: "1.2.4", mode: "sidecar", crdPlural: "fpmeshconfigs", crdGroup: "config.openservicemesh.io", webhook: "osm-webhook-",
		apply: func(c *testCluster, ns string) {
			for _, comp := range []string{"controller", "injector", "bootstrap"} {
				c.deployment(ns, "osm-"+comp, 1, map[string]string{"app": "osm-" + comp, "app.kubernetes.io/name": "openservicemesh.io"},
					container{"osm-" + comp, "openservicemesh/osm-" + comp + ":v1.2.4"})
			}
		}},
	{mesh: "nginx_service_mesh", cluster: "c1", version: "2.0.0", mode: "sidecar", crdPlural: "fpratelimits", crdGroup: "specs.smi.nginx.com",
		apply: func(c *testCluster, ns string) {
			c.deployment(ns, "nginx-mesh-api", 1, map[string]string{"app.kubernetes.io/name": "nginx-mesh-api", "app.kubernetes.io/part-of": "nginx-service-mesh"},
				container{"nginx-mesh-api", "docker-registry.nginx.com/nsm/nginx-mesh-api:2.0.0"})
			c.deployment(ns, "nginx-mesh-metrics", 1, map[string]string{"app.kubernetes.io/name": "nginx-mesh-metrics"},
				container{"nginx-mesh-metrics", "docker-registry.nginx.com/nsm/nginx-mesh-metrics:2.0.0"})
		}},
}

// Every mesh's control plane, laid out as its installer does in a namespace of the
// test's own on c1 or c2, is named with its type, mode and version, in its cluster
// and its namespace only.
func TestEveryMeshOnRealClusters(t *testing.T) {
	merged := k8stest.Require(t, 2)
	ctx := context.Background()
	run := k8stest.Namespace("mp-fp-every")
	clusters := map[string]*testCluster{"c1": openCluster(t, merged, "c1"), "c2": openCluster(t, merged, "c2")}
	nsOf := map[string]string{}
	for _, l := range layouts {
		c := clusters[l.cluster]
		ns := run + "-" + l.mesh[:3]
		nsOf[l.mesh] = ns
		c.namespace(ns)
		if l.crdPlural != "" {
			c.crd(l.crdPlural, run+"."+l.crdGroup)
		}
		if l.webhook != "" {
			c.mutatingWebhook(l.webhook + run)
		}
		l.apply(c, ns)
	}

	st := storetest.Open(t, "sqlite")
	box, _, err := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	conns := connections.New(st, connections.Options{Box: box})
	if res, err := conns.Add(ctx, k8stest.Contexts(t, merged, []string{"c1", "c2"}, nil), nil, false, "ops"); err != nil || len(res) != 2 {
		t.Fatalf("adding the clusters: %+v %v", res, err)
	}
	all, err := New(conns, &LiveSource{Clusters: conns}, slog.Default()).All(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("All: %+v %v", all, err)
	}
	byCluster := map[string]int{"c1": 0, "c2": 1}
	for _, l := range layouts {
		got := all[byCluster[l.cluster]]
		m := meshIn(got, l.mesh, nsOf[l.mesh])
		if m == nil {
			t.Errorf("%s on %s: not found in %s:\n%s", l.mesh, l.cluster, nsOf[l.mesh], describe(got))
			continue
		}
		if m.Version != l.version || m.Mode != l.mode {
			t.Errorf("%s on %s: version %q mode %q, want %q %q; evidence %q", l.mesh, l.cluster, m.Version, m.Mode, l.version, l.mode, m.Evidence)
		}
		other := all[1-byCluster[l.cluster]]
		if meshIn(other, l.mesh, nsOf[l.mesh]) != nil {
			t.Errorf("%s of %s is named in the other cluster too", l.mesh, l.cluster)
		}
	}
}
