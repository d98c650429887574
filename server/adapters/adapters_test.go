package adapters_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshperf/meshperf/adapters/adapter"
	"github.com/meshperf/meshperf/adapters/charts/chartstest"
	"github.com/meshperf/meshperf/adapters/linkerd"
	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/server/adapters"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

func suffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// runAdapter serves a Linkerd adapter on addr ("" = a free port) until stop is called.
func runAdapter(t *testing.T, repoURL, addr string) (string, func()) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	var err error
	for i := 0; i < 50; i++ { // the previous adapter's port may take a moment to free
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := adapter.NewServer(ctx, linkerd.New(repoURL, "ghcr.io/meshperf/meshperf:test"), adapter.Options{Version: "test", ClusterTimeout: 150 * time.Second})
	done := make(chan struct{})
	go func() { _ = s.Serve(ctx, lis); close(done) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

type fixture struct {
	st       *store.Store
	merged   []byte
	kc       map[string][]byte
	repo     *chartstest.Repo
	adapter  string
	stopAd   func()
	svc      *adapters.Service
	stopSvc  func()
	ns       string
	clusters []string
}

func newFixture(t *testing.T, kind string) *fixture {
	merged := k8stest.Require(t, 3)
	f := &fixture{st: storetest.Open(t, kind), merged: merged, ns: "mp-linkerd-" + suffix(),
		repo: chartstest.Serve(t, append(chartstest.Linkerd("1.16.11", "stable-2.14.10"), chartstest.Linkerd("1.16.10", "stable-2.14.9")...)...)}
	f.kc = map[string][]byte{
		"c1": k8stest.One(t, merged, "c1", ""),
		"c2": k8stest.One(t, merged, "c2", ""),
		"c3": k8stest.One(t, merged, "c3", k8stest.DownServer(t, merged, "c3")),
	}
	f.adapter, f.stopAd = runAdapter(t, f.repo.URL, "")
	f.start(t)
	t.Cleanup(func() {
		for _, c := range []string{"c1", "c2"} {
			cs := k8stest.Clientset(t, merged, c)
			_ = cs.CoreV1().Namespaces().Delete(context.Background(), f.ns, metav1.DeleteOptions{})
			k8stest.DeleteClusterScoped(t, cs, "app.kubernetes.io/managed-by=meshperf,meshperf.io/mesh=linkerd")
		}
	})
	return f
}

// start runs a server-side service (a server process) on the fixture's store.
func (f *fixture) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f.svc = adapters.New(ctx, f.st, func(_ context.Context, ref string) (string, []byte, error) {
		kc, ok := f.kc[ref]
		if !ok {
			return "", nil, fmt.Errorf("no cluster connection %q", ref)
		}
		return ref, kc, nil
	}, adapters.Options{HealthInterval: 500 * time.Millisecond, AdapterGone: 30 * time.Second})
	done := make(chan struct{})
	go func() { _ = f.svc.Run(ctx); close(done) }()
	stopped := false
	f.stopSvc = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(f.stopSvc)
}

func (f *fixture) wait(t *testing.T, id string, within time.Duration) *apitypes.Operation {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		op, err := f.svc.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if adapters.Done(op.State) {
			return op
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s still %s after %s: %+v", id, op.State, within, op.Clusters)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func cluster(op *apitypes.Operation, name string) apitypes.OperationCluster {
	for _, c := range op.Clusters {
		if c.Cluster == name {
			return c
		}
	}
	return apitypes.OperationCluster{}
}

// checkEvents: numbered from 1 without gaps, and in order per cluster.
func checkEvents(t *testing.T, svc *adapters.Service, id string) []apitypes.OperationEvent {
	t.Helper()
	evs, err := svc.Events(context.Background(), id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int64{}
	for i, e := range evs {
		if e.Sequence != int64(i+1) {
			t.Fatalf("event %d has sequence %d", i, e.Sequence)
		}
		if e.Cluster != "" {
			if e.ClusterSequence != per[e.Cluster]+1 {
				t.Fatalf("%s: cluster sequence %d after %d", e.Cluster, e.ClusterSequence, per[e.Cluster])
			}
			per[e.Cluster] = e.ClusterSequence
		}
	}
	return evs
}

// Registration, then Linkerd on c1 and c2 with c3's API server down, through the
// server's registry: c1 and c2 succeed, c3 fails alone with its cause, everything
// stored; bad requests are refused naming the field; uninstall removes everything.
func TestInstallOnClustersWithOneDown(t *testing.T) {
	f := newFixture(t, "sqlite")
	ctx := context.Background()
	if _, err := f.svc.Register(ctx, apitypes.AdapterRegistration{Address: f.adapter, Mesh: "istio"}); err == nil || !strings.Contains(err.Error(), "mesh") {
		t.Fatalf("a Linkerd adapter registered as istio: %v", err)
	}
	a, err := f.svc.Register(ctx, apitypes.AdapterRegistration{Address: f.adapter, Mesh: "linkerd"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.Register(ctx, apitypes.AdapterRegistration{Address: f.adapter, Mesh: "linkerd"})
	if err != nil || again.ID != a.ID {
		t.Fatalf("registration is not idempotent: %v %v", again, err)
	}
	if strings.Join(a.MeshVersions, ",") != "1.16.11,1.16.10" || len(a.Operations) != 8 {
		t.Fatalf("capabilities %+v", a)
	}

	for _, c := range []struct {
		req   apitypes.OperationRequest
		field string
	}{
		{apitypes.OperationRequest{Mesh: "cilium", Kind: "install", Clusters: []string{"c1"}}, "mesh"},
		{apitypes.OperationRequest{Mesh: "linkerd", Kind: "reinstall", Clusters: []string{"c1"}}, "kind"},
		{apitypes.OperationRequest{Mesh: "linkerd", Kind: "install", Clusters: []string{"c1"}, Version: "9.9.9"}, "version"},
		{apitypes.OperationRequest{Mesh: "linkerd", Kind: "install", Clusters: []string{"nope"}}, "clusters[0]"},
		{apitypes.OperationRequest{Mesh: "linkerd", Kind: "configure-addons", Clusters: []string{"c1"}}, "kind"},
		{apitypes.OperationRequest{Mesh: "linkerd", Kind: "sample-deploy", Clusters: []string{"c1"}, Parameters: map[string]string{"inject": "maybe"}}, "parameters.inject"},
		{apitypes.OperationRequest{Mesh: "linkerd", Kind: "install", Clusters: []string{"c1"}, Namespace: "No_Such"}, "namespace"},
	} {
		_, err := f.svc.Start(ctx, c.req, "tester")
		var ie *adapters.InputError
		if !asInput(err, &ie) || !strings.Contains(ie.Error(), c.field) {
			t.Errorf("%+v: %v, want bad input naming %s", c.req, err, c.field)
		}
	}
	if ops, _ := f.svc.List(ctx, "", 0); len(ops) != 0 {
		t.Fatalf("refused requests left operations behind: %+v", ops)
	}

	op, err := f.svc.Start(ctx, apitypes.OperationRequest{Mesh: "linkerd", Kind: "install", Version: "1.16.11",
		Namespace: f.ns, Clusters: []string{"c1", "c2", "c3"}}, "tester")
	if err != nil {
		t.Fatal(err)
	}
	op = f.wait(t, op.ID, 3*time.Minute)
	if op.State != "failed" || !strings.Contains(op.Error, "c3") {
		t.Errorf("operation %s %q, want failed on c3 only", op.State, op.Error)
	}
	for _, c := range []string{"c1", "c2"} {
		if r := cluster(op, c); r.State != "succeeded" || r.Details["app_version"] != "stable-2.14.10" || r.Finished == nil {
			t.Errorf("%s: %+v", c, r)
		}
		d, err := k8stest.Clientset(t, f.merged, c).AppsV1().Deployments(f.ns).Get(ctx, "linkerd-destination", metav1.GetOptions{})
		if err != nil || d.Spec.Template.Spec.Containers[0].Image != "cr.l5d.io/linkerd/controller:stable-2.14.10" || d.Status.AvailableReplicas != 1 {
			t.Errorf("%s: linkerd-destination %v", c, err)
		}
	}
	if r := cluster(op, "c3"); r.State != "failed" || !strings.Contains(r.Cause, "unreachable") || r.Remedy == "" {
		t.Errorf("c3: %+v", r)
	}
	evs := checkEvents(t, f.svc, op.ID)
	if len(evs) < 10 || op.LastSequence != evs[len(evs)-1].Sequence {
		t.Errorf("%d events, last %d", len(evs), op.LastSequence)
	}

	op, err = f.svc.Start(ctx, apitypes.OperationRequest{Mesh: "linkerd", Kind: "uninstall", Namespace: f.ns, Clusters: []string{"c1", "c2"}}, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if op = f.wait(t, op.ID, 3*time.Minute); op.State != "succeeded" {
		t.Fatalf("uninstall: %+v", op)
	}
	for _, c := range []string{"c1", "c2"} {
		cs := k8stest.Clientset(t, f.merged, c)
		if _, err := cs.CoreV1().Namespaces().Get(ctx, f.ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: namespace left behind (%v)", c, err)
		}
		raw, err := cs.Discovery().RESTClient().Get().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions").DoRaw(ctx)
		if err != nil || strings.Contains(string(raw), "linkerd.io") {
			t.Errorf("%s: Linkerd CRDs left behind (%v)", c, err)
		}
	}
	ads, _ := f.svc.Adapters(ctx)
	if len(ads) != 1 || !ads[0].Healthy {
		t.Errorf("registry %+v", ads)
	}
}

func asInput(err error, ie **adapters.InputError) bool {
	e, ok := err.(*adapters.InputError)
	if ok {
		*ie = e
	}
	return ok
}

// The adapter restarted mid-operation: the server finds it lost the operation,
// applies it again (attempt 2) and the operation succeeds; and the server restarted
// while the adapter works: the new server process resumes from the last event it
// stored and the operation ends, never stuck running. PostgreSQL.
func TestRestartsMidOperation(t *testing.T) {
	f := newFixture(t, "postgres")
	ctx := context.Background()
	if _, err := f.svc.Register(ctx, apitypes.AdapterRegistration{Address: f.adapter, Mesh: "linkerd"}); err != nil {
		t.Fatal(err)
	}
	waitHeld := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for f.repo.Waiting() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the operation never reached the chart download")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// 1. The adapter restarts while the operation waits for its chart.
	f.repo.Hold()
	op, err := f.svc.Start(ctx, apitypes.OperationRequest{Mesh: "linkerd", Kind: "install", Namespace: f.ns, Clusters: []string{"c1"}}, "tester")
	if err != nil {
		t.Fatal(err)
	}
	waitHeld()
	f.stopAd()
	f.adapter, f.stopAd = runAdapter(t, f.repo.URL, f.adapter)
	f.repo.Release()
	done := f.wait(t, op.ID, 3*time.Minute)
	if done.State != "succeeded" {
		t.Fatalf("after the adapter restarted: %+v", done)
	}
	evs := checkEvents(t, f.svc, op.ID)
	resumed := false
	for _, e := range evs {
		if strings.Contains(e.Summary, "no longer knows this operation") && strings.Contains(e.Summary, "attempt 2") {
			resumed = true
		}
	}
	if !resumed {
		t.Errorf("no event says the operation was applied again: %+v", evs)
	}

	// 2. The server restarts while the adapter works (an upgrade, held at its chart).
	// The upgrade keeps the trust anchor the install generated.
	roots := func() string {
		cm, err := k8stest.Clientset(t, f.merged, "c1").CoreV1().ConfigMaps(f.ns).Get(ctx, "linkerd-identity-trust-roots", metav1.GetOptions{})
		if err != nil || !strings.Contains(cm.Data["ca-bundle.crt"], "BEGIN CERTIFICATE") {
			t.Fatalf("trust roots: %v", err)
		}
		return cm.Data["ca-bundle.crt"]
	}
	anchor := roots()
	f.repo.Hold()
	op, err = f.svc.Start(ctx, apitypes.OperationRequest{Mesh: "linkerd", Kind: "install", Version: "1.16.10", Namespace: f.ns, Clusters: []string{"c1"}}, "tester")
	if err != nil {
		t.Fatal(err)
	}
	waitHeld()
	f.stopSvc()
	if op2, _ := f.svc.Get(ctx, op.ID); op2.State != "running" {
		t.Fatalf("the operation is %s when its server stopped, want running", op2.State)
	}
	f.start(t) // a new server process on the same database
	f.repo.Release()
	done = f.wait(t, op.ID, 3*time.Minute)
	if c := cluster(done, "c1"); done.State != "succeeded" || c.Details["app_version"] != "stable-2.14.9" {
		t.Fatalf("after the server restarted: %+v", done)
	}
	checkEvents(t, f.svc, op.ID)
	if roots() != anchor {
		t.Errorf("the upgrade replaced Linkerd's trust anchor")
	}
	op, err = f.svc.Start(ctx, apitypes.OperationRequest{Mesh: "linkerd", Kind: "uninstall", Namespace: f.ns, Clusters: []string{"c1"}}, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if done = f.wait(t, op.ID, 3*time.Minute); done.State != "succeeded" {
		t.Fatalf("uninstall: %+v", done)
	}

	// 3. The adapter gone for good: the operation fails with that cause.
	f.stopAd()
	f.stopSvc()
	ctx2, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := adapters.New(ctx2, f.st, func(_ context.Context, ref string) (string, []byte, error) { return ref, f.kc[ref], nil },
		adapters.Options{AdapterGone: 2 * time.Second})
	go func() { _ = svc.Run(ctx2) }()
	op, err = svc.Start(ctx, apitypes.OperationRequest{Mesh: "linkerd", Kind: "sample-remove", Clusters: []string{"c1"}}, "tester")
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	done = f.wait(t, op.ID, time.Minute)
	if c := cluster(done, "c1"); done.State != "failed" || !strings.Contains(c.Cause, "unreachable") {
		t.Fatalf("with the adapter gone: %+v", done)
	}
}
