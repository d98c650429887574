package fingerprint

import (
	"strconv"
	"testing"
)

// BenchmarkIdentify50k: a cluster of 50,000 objects (pods with sidecars, workloads,
// services) with Istio and Prometheus in it.
func BenchmarkIdentify50k(b *testing.B) {
	objects := join(istioCRDs, objs(
		deployment("istio-system", "istiod", l("app", "istiod"), "docker.io/istio/pilot:1.24.2"),
		hook(KindMutatingHook, "istio-sidecar-injector"),
		statefulSet("monitoring", "prometheus", l("app", "prometheus"), "quay.io/prometheus/prometheus:v2.54.1"),
	))
	for i := 0; len(objects) < 50000; i++ {
		n := strconv.Itoa(i)
		objects = append(objects,
			pod("shop", "web-"+n, l("app", "web"+n), ct("web", "shop/web:1"), ct("istio-proxy", "docker.io/istio/proxyv2:1.24.2")),
			deployment("shop", "web-"+n, l("app", "web"+n), "shop/web:1"),
			Object{Kind: KindService, Namespace: "shop", Name: "web-" + n, Service: &ServiceSpec{Selector: l("app", "web"+n), Ports: []ServicePort{{Port: 80}}}})
	}
	b.ResetTimer()
	for range b.N {
		rep := Identify(objects)
		if len(rep.Meshes) != 1 || rep.Meshes[0].Proxies.Count == 0 {
			b.Fatalf("%+v", rep.Meshes)
		}
	}
}
