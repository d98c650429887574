package meshes

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/meshsync/fingerprint"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/storetest"
)

const pinned = "sha256:4e1cbbc4b0bc3b8e3e3c9a4b1b9e4d2a4b0f8f3e6c2d1a9b8c7d6e5f4a3b2c1d"

// Control planes laid out on real clusters as each mesh installs them (real images,
// labels, CRDs, webhooks; kwok runs no container but the Deployments get pods): c1
// gets Istio 1.24.2 in a namespace of the test's own with two injected workloads and a
// Prometheus; c2 gets Linkerd pinned by digest (its version from its labels) and a
// Deployment named istiod running another image. Through the real connection manager
// and LiveSource, each cluster names its own mesh and version, not the other's, and a
// run's environment of c1 records Istio.
func TestMeshesOnRealClusters(t *testing.T) {
	merged := k8stest.Require(t, 2)
	ctx := context.Background()
	ns := k8stest.Namespace("mp-fingerprints")
	c1, c2 := openCluster(t, merged, "c1"), openCluster(t, merged, "c2")

	// c1: Istio as istioctl lays it out, in a namespace that is not istio-system.
	istioNS, appNS := ns+"-istio", ns+"-shop"
	c1.namespace(istioNS)
	c1.namespace(appNS)
	c1.crd("fpgateways", ns+".networking.istio.io")
	c1.crd("fppolicies", ns+".security.istio.io")
	c1.mutatingWebhook("istio-sidecar-injector-" + ns)
	c1.deployment(istioNS, "istiod", 1, map[string]string{"app": "istiod", "istio": "pilot", "istio.io/rev": "default"},
		container{"discovery", "docker.io/istio/pilot:1.24.2"})
	c1.deployment(appNS, "cart", 2, map[string]string{"app": "cart"},
		container{"cart", "ghcr.io/meshperf/cart:1"}, container{"istio-proxy", "docker.io/istio/proxyv2:1.24.2"})
	c1.deployment(appNS, "prometheus", 1, map[string]string{"app": "prometheus"}, container{"prometheus", "quay.io/prometheus/prometheus:v2.54.1"})
	c1.service(appNS, "prometheus", map[string]string{"app": "prometheus"}, 9090, 9090)

	// c2: Linkerd pinned by digest in its own namespace, and an impostor istiod.
	l5dNS := ns + "-l5d"
	c2.namespace(l5dNS)
	c2.crd("fpservers", ns+".policy.linkerd.io")
	c2.mutatingWebhook("linkerd-proxy-injector-webhook-config-" + ns)
	for _, comp := range []string{"destination", "identity", "proxy-injector"} {
		c2.deployment(l5dNS, "linkerd-"+comp, 1, map[string]string{"linkerd.io/control-plane-component": comp,
			"linkerd.io/control-plane-ns": l5dNS, "app.kubernetes.io/version": "stable-2.14.10"},
			container{comp, "cr.l5d.io/linkerd/controller@" + pinned}, container{"linkerd-proxy", "cr.l5d.io/linkerd/proxy@" + pinned})
	}
	c2.deployment(l5dNS, "istiod", 1, map[string]string{"app": "istiod", "istio": "pilot"}, container{"discovery", "ghcr.io/acme/istiod:2.0.0"})

	c1.waitPods(appNS, "app=cart", 2)
	c1.waitPods(istioNS, "app=istiod", 1)
	c2.waitPods(l5dNS, "linkerd.io/control-plane-component", 3)

	st := storetest.Open(t, "sqlite")
	box, _, err := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	conns := connections.New(st, connections.Options{Box: box})
	if res, err := conns.Add(ctx, k8stest.Contexts(t, merged, []string{"c1", "c2"}, nil), nil, false, "ops"); err != nil || len(res) != 2 {
		t.Fatalf("adding the clusters: %+v %v", res, err)
	}
	svc := New(conns, &LiveSource{Clusters: conns, PageSize: 200}, slog.Default())

	all, err := svc.All(ctx)
	if err != nil || len(all) != 2 || all[0].Cluster != "c1" || all[1].Cluster != "c2" {
		t.Fatalf("All: %+v %v", all, err)
	}
	for _, cm := range all {
		if cm.Error != "" {
			t.Fatalf("%s: %s", cm.Cluster, cm.Error)
		}
	}

	istio := meshIn(all[0], "istio", istioNS)
	if istio == nil {
		t.Fatalf("c1: no Istio in %s: %s", istioNS, describe(all[0]))
	}
	if istio.Version != "1.24.2" || istio.Mode != "sidecar" || istio.Proxies.Versions["1.24.2"] < 2 {
		t.Errorf("c1 Istio: version %q mode %q proxies %+v, want 1.24.2, sidecar, two 1.24.2 proxies of %s", istio.Version, istio.Mode, istio.Proxies, appNS)
	}
	if meshIn(all[0], "linkerd", l5dNS) != nil {
		t.Errorf("c1 names c2's Linkerd: %s", describe(all[0]))
	}
	var prom *fingerprint.Monitoring
	for i, m := range all[0].Monitoring {
		if m.Namespace == appNS {
			prom = &all[0].Monitoring[i]
		}
	}
	if prom == nil || prom.Kind != "prometheus" || prom.Version != "2.54.1" || prom.Service != "prometheus" || prom.Port != 9090 {
		t.Errorf("c1 Prometheus in %s: %+v (all: %+v)", appNS, prom, all[0].Monitoring)
	}

	linkerd := meshIn(all[1], "linkerd", l5dNS)
	if linkerd == nil {
		t.Fatalf("c2: no Linkerd in %s: %s", l5dNS, describe(all[1]))
	}
	if linkerd.Version != "stable-2.14.10" || len(linkerd.ControlPlane) != 3 {
		t.Errorf("c2 Linkerd pinned by digest: version %q (want stable-2.14.10 from its labels), control plane %+v", linkerd.Version, linkerd.ControlPlane)
	}
	for _, m := range all[1].Meshes {
		for _, c := range m.ControlPlane {
			if c.Namespace == l5dNS && c.Name == "istiod" {
				t.Errorf("c2: the impostor istiod (another image) was taken for %s: %s", m.Type, describe(all[1]))
			}
		}
	}
	if meshIn(all[1], "istio", istioNS) != nil {
		t.Errorf("c2 names c1's Istio: %s", describe(all[1]))
	}

	one, err := svc.Cluster(ctx, "c2")
	if err != nil || meshIn(*one, "linkerd", l5dNS) == nil {
		t.Errorf("Cluster(c2): %+v %v", one, err)
	}
	if _, err := svc.Cluster(ctx, "nope"); err == nil {
		t.Error("an unknown cluster must be an error")
	}

	env, err := svc.Environment(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range env.Meshes {
		if m.Type == "istio" && m.Namespace == istioNS {
			found = m.Version == "1.24.2" && m.Mode == "sidecar" && m.Proxies >= 2
		}
	}
	if !found || env.Cluster != "c1" || env.Version == "" {
		t.Errorf("a run's environment of c1 must record its Istio: %+v", env)
	}
}

func meshIn(cm apitypes.ClusterMeshes, typ, ns string) *fingerprint.Mesh {
	for i, m := range cm.Meshes {
		if m.Type == typ && m.Namespace == ns {
			return &cm.Meshes[i]
		}
	}
	return nil
}

func describe(cm apitypes.ClusterMeshes) string {
	var b strings.Builder
	for _, m := range cm.Meshes {
		b.WriteString(m.Type + " " + m.Version + " in " + m.Namespace + ": " + strings.Join(m.Evidence, "; ") + "\n")
	}
	if b.Len() == 0 {
		return "no mesh"
	}
	return b.String()
}
