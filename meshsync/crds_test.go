package meshsync

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/internal/k8stest"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// crd is a namespaced CRD with versions (name -> served; the first is stored).
func crd(group, plural, kind string, versions ...string) *unstructured.Unstructured {
	var vs []any
	for i, v := range versions {
		vs = append(vs, map[string]any{"name": v, "served": true, "storage": i == 0,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}})
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": plural + "." + group},
		"spec": map[string]any{"group": group, "scope": "Namespaced", "versions": vs,
			"names": map[string]any{"plural": plural, "singular": strings.ToLower(kind), "kind": kind, "listKind": kind + "List"}},
	}}
}

// createCRD creates a CRD and waits (bounded) until it is established.
func createCRD(t *testing.T, dyn dynamic.Interface, obj *unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	crds := dyn.Resource(crdGVR)
	if _, err := crds.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = crds.Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{}) })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got, err := crds.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err == nil && established(got) {
			return
		}
		time.Sleep(100 * time.Millisecond) // polling the API server, bounded above
	}
	t.Fatalf("CRD %s not established within 30 s", obj.GetName())
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

func createCR(t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, kind, ns, name string) {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": gvr.GroupVersion().String(), "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns}, "spec": map[string]any{"size": int64(1)}}}
	// Discovery of a just-established CRD can lag a moment: retry on NotFound, bounded.
	var err error
	for i := 0; i < 50; i++ {
		if _, err = dyn.Resource(gvr).Namespace(ns).Create(context.Background(), obj, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func randomGroup(prefix string) string {
	return strings.TrimPrefix(k8stest.Namespace(prefix), prefix+"-") + "." + prefix + ".meshperf.test"
}

// apiserverMetric sums the samples of metric whose labels include every one of want.
func apiserverMetric(t *testing.T, cs kubernetes.Interface, metric string, want ...string) float64 {
	t.Helper()
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("reading the API server's metrics: %v", err)
	}
	sum, found := 0.0, false
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(line, w)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum, found = sum+v, true
		}
	}
	if !found && !strings.Contains(string(raw), metric+"{") {
		t.Fatalf("the API server exports no %s", metric)
	}
	return sum
}

func TestScopeLimitsTheWatchesThemselves(t *testing.T) {
	merged := k8stest.Require(t, 1)
	cs := k8stest.Clientset(t, merged, "c1")
	dyn, _ := dynamic.NewForConfig(k8stest.RESTConfig(t, merged, "c1"))
	ns := createNamespace(t, cs, "msscope")
	excludedNS := createNamespace(t, cs, "msscope-out")
	group := randomGroup("msscope")
	createCRD(t, dyn, crd(group, "widgets", "Widget", "v1"))
	createCRD(t, dyn, crd(group, "gadgets", "Gadget", "v1"))
	widgets := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}
	gadgets := widgets.GroupVersion().WithResource("gadgets")
	createCR(t, dyn, widgets, "Widget", ns, "w-in")
	createCR(t, dyn, widgets, "Widget", excludedNS, "w-out")
	createCR(t, dyn, gadgets, "Gadget", ns, "g-in")

	h := startMeshSync(t, Scope{ExcludeKinds: []string{"gadgets." + group}, ExcludeNamespaces: []string{excludedNS}})
	// A second MeshSync limited to one namespace: its watches are the API server's only
	// namespace-scoped watches of these resources (the controller manager's garbage
	// collector watches every resource cluster-wide).
	h2 := startMeshSync(t, Scope{ExcludeKinds: []string{"gadgets." + group}, IncludeNamespaces: []string{ns}})
	evs := h.waitFor("the start snapshot", waitLong, func(evs []received) bool { return len(snapshotEnds(evs, "")) > 0 })
	h2.waitFor("the second start snapshot", waitLong, func(evs []received) bool { return len(snapshotEnds(evs, "")) > 0 })
	end := snapshotEnds(evs, "")[0]
	if !contains(end.Resources, "widgets.v1."+group) || contains(end.Resources, "gadgets.v1."+group) {
		t.Errorf("start snapshot resources: widgets in %v, gadgets out", end.Resources)
	}
	if len(objectEvents(evs, ns, "w-in")) != 1 || len(objectEvents(evs, excludedNS, "w-out")) != 0 || len(objectEvents(evs, ns, "g-in")) != 0 {
		t.Errorf("events: w-in %d (want 1), w-out %d, g-in %d (want 0)", len(objectEvents(evs, ns, "w-in")),
			len(objectEvents(evs, excludedNS, "w-out")), len(objectEvents(evs, ns, "g-in")))
	}
	for _, r := range evs {
		if o := r.ev().Object; o != nil && o.Namespace == excludedNS {
			t.Errorf("an object of the excluded namespace travelled: %s %s", o.Resource, o.Name)
		}
	}
	// The API server's own count of open watches and lists, per resource and scope.
	group = `group="` + group + `"`
	// Other packages' tests may run MeshSyncs limited to their own namespaces at the
	// same time (they watch every resource, these CRDs included), so the counts are
	// compared: the one namespace watch of widgets that h2 holds has no gadgets twin.
	w := apiserverMetric(t, cs, "apiserver_longrunning_requests", group, `resource="widgets"`, `scope="namespace"`, `verb="WATCH"`)
	g := apiserverMetric(t, cs, "apiserver_longrunning_requests", group, `resource="gadgets"`, `scope="namespace"`, `verb="WATCH"`)
	if w < 1 || g >= w {
		t.Errorf("the API server counts %v namespace watches of widgets and %v of the excluded gadgets; want more of widgets", w, g)
	}
	if n := h.requested("/gadgets") + h2.requested("/gadgets"); n != 0 || h.requested("/widgets") == 0 {
		t.Errorf("MeshSync made %d requests for the excluded gadgets (%v %v) and %d for widgets", n,
			h.requestedPaths("/gadgets"), h2.requestedPaths("/gadgets"), h.requested("/widgets"))
	}
}

func TestCRDsComeChurnAndGoWithoutRelists(t *testing.T) {
	ctx := context.Background()
	merged := k8stest.Require(t, 1)
	cs := k8stest.Clientset(t, merged, "c1")
	dyn, _ := dynamic.NewForConfig(k8stest.RESTConfig(t, merged, "c1"))
	ns := createNamespace(t, cs, "mscrd")
	h := startMeshSync(t, Scope{IncludeNamespaces: []string{ns}})
	start := snapshotEnds(h.waitFor("the start snapshot", waitLong, func(evs []received) bool { return len(snapshotEnds(evs, "")) > 0 }), "")[0]
	group := randomGroup("mscrd")
	// ours: snapshots after the start one that cover this test's CRD or a resource the
	// start snapshot had (other tests create CRDs of their own meanwhile).
	ours := func(evs []received, after int) []*bus.MeshSyncEvent {
		var out []*bus.MeshSyncEvent
		for _, e := range snapshotEnds(evs, "")[after:] {
			for _, r := range e.Resources {
				// This test's CRDs, and every built-in resource; other tests' CRDs
				// (*.meshperf.test) come and go on the shared cluster.
				if strings.HasSuffix(r, "."+group) || (contains(start.Resources, r) && !strings.HasSuffix(r, ".meshperf.test")) {
					out = append(out, e)
					break
				}
			}
		}
		return out
	}
	things := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "things"}
	keyV1 := bus.ResourceKey(group, "v1", "things")
	def := crd(group, "things", "Thing", "v1")
	_ = unstructured.SetNestedMap(def.Object, map[string]any{"strategy": "Webhook", "webhook": map[string]any{
		"conversionReviewVersions": []any{"v1"},
		"clientConfig":             map[string]any{"url": "https://convert.invalid/", "caBundle": caBundle(t, 0)}}},
		"spec", "conversion")
	createCRD(t, dyn, def)
	createCR(t, dyn, things, "Thing", ns, "t1")
	evs := h.waitFor("the new CRD's own snapshot and its object", waitLong, func(evs []received) bool {
		return len(snapshotEnds(evs, keyV1)) > 0 && len(objectEvents(evs, ns, "t1")) > 0
	})
	if e := snapshotEnds(evs, keyV1)[0]; len(e.Resources) != 1 {
		t.Errorf("the new CRD's snapshot covered %v, want only %s", e.Resources, keyV1)
	}
	snapshotsBefore := len(snapshotEnds(evs, ""))
	// MeshSync's requests are the only namespace-scoped ones in its namespace. A CRD's
	// spec change (caBundle included) makes the API server rebuild that resource's
	// storage and end its watches (apiextensions-apiserver's crdHandler); a watch that
	// cannot resume in the new watch cache is relisted by client-go, for that resource
	// alone. What MeshSync controls: it restarts no watch and relists nothing else.
	cmPath, thingsPath := "/api/v1/namespaces/"+ns+"/configmaps", "/apis/"+group+"/v1/namespaces/"+ns+"/things"
	configMapsBefore, thingsBefore := h.listings(cmPath), h.listings(thingsPath)
	if configMapsBefore != 1 || thingsBefore != 1 {
		t.Errorf("MeshSync listed config maps %d times and things %d times before the churn; want once each", configMapsBefore, thingsBefore)
	}
	// cert-manager's cainjector, 20 times.
	crds := dyn.Resource(crdGVR)
	var lastRV string
	for i := 1; i <= 20; i++ {
		got, err := crds.Get(ctx, def.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = unstructured.SetNestedField(got.Object, caBundle(t, int64(i)),
			"spec", "conversion", "webhook", "clientConfig", "caBundle")
		upd, err := crds.Update(ctx, got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lastRV = upd.GetResourceVersion()
	}
	// The watch still works: a change to t1 after the churn arrives.
	t1, err := dyn.Resource(things).Namespace(ns).Get(ctx, "t1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t1.SetLabels(map[string]string{"after": "churn"})
	if _, err := dyn.Resource(things).Namespace(ns).Update(ctx, t1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	evs = h.waitFor("the last caBundle rewrite and t1's change", waitLong, func(evs []received) bool {
		seen, changed := false, false
		for _, r := range objectEvents(evs, "", def.GetName()) {
			seen = seen || r.ev().Object.ResourceVersion == lastRV
		}
		for _, r := range objectEvents(evs, ns, "t1") {
			changed = changed || r.ev().Object.Labels["after"] == "churn"
		}
		return seen && changed
	})
	relists, others := 0, 0
	for _, e := range ours(evs, snapshotsBefore) {
		if e.Reason == "relist" && len(e.Resources) == 1 && e.Resources[0] == keyV1 {
			relists++
		} else {
			others++
		}
	}
	if others != 0 {
		t.Errorf("20 caBundle rewrites caused %d snapshots", others)
	}
	if n := h.listings(thingsPath) - thingsBefore; relists > n {
		t.Errorf("%d relist snapshots of things, but things were listed again only %d times", relists, n)
	}
	if after := h.listings(cmPath); after != configMapsBefore {
		t.Errorf("20 caBundle rewrites of one CRD: config maps were listed again (%d listings, then %d)", configMapsBefore, after)
	}
	t.Logf("20 caBundle rewrites: things listed %d times again (the API server ends a CRD's watches when it rebuilds its storage; client-go relists when the watch cannot resume)",
		h.listings(thingsPath)-thingsBefore)

	// A served version that goes away: only this CRD's watch moves to the new one.
	got, err := crds.Get(ctx, def.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v2 := crd(group, "things", "Thing", "v2", "v1")
	vs, _, _ := unstructured.NestedSlice(v2.Object, "spec", "versions")
	vs[1].(map[string]any)["served"] = false
	_ = unstructured.SetNestedSlice(got.Object, vs, "spec", "versions")
	_ = unstructured.SetNestedMap(got.Object, map[string]any{"strategy": "None"}, "spec", "conversion")
	if _, err := crds.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	keyV2 := bus.ResourceKey(group, "v2", "things")
	evs = h.waitFor("the snapshot of things at v2", waitLong, func(evs []received) bool { return len(snapshotEnds(evs, keyV2)) > 0 })
	if e := snapshotEnds(evs, keyV2)[0]; e.Count != 1 {
		t.Errorf("things at v2: snapshot of %d objects, want 1", e.Count)
	}
	var v1 []*bus.MeshSyncEvent
	for _, e := range snapshotEnds(evs, keyV1) {
		if e.Reason != "relist" {
			v1 = append(v1, e)
		}
	}
	if len(v1) != 2 || v1[1].Count != 0 || v1[1].Reason != "resource removed" {
		t.Errorf("things at v1: want its first snapshot and an empty one after it stopped being served; got %d", len(v1))
	}
	for _, e := range ours(evs, snapshotsBefore) {
		if len(e.Resources) != 1 || (e.Resources[0] != keyV1 && e.Resources[0] != keyV2) {
			t.Errorf("a version change of one CRD snapshotted %v", e.Resources)
		}
	}

	// A deleted CRD: its objects go, and so does its watch.
	if err := crds.Delete(ctx, def.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the deleted CRD's empty snapshot", waitLong, func(evs []received) bool {
		ends := snapshotEnds(evs, keyV2)
		return len(ends) > 0 && ends[len(ends)-1].Count == 0 && ends[len(ends)-1].Reason == "resource removed"
	})
}

// caBundle is a fresh self-signed CA certificate, base64 PEM, as cert-manager injects.
func caBundle(t *testing.T, serial int64) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial + 1), Subject: pkix.Name{CommonName: fmt.Sprintf("test-ca-%d", serial)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
