package helmmesh_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/meshperf/meshperf/adapters/adapter"
	"github.com/meshperf/meshperf/adapters/charts/chartstest"
	"github.com/meshperf/meshperf/adapters/istio"
	adapterv1 "github.com/meshperf/meshperf/adapters/proto/meshperf/adapter/v1"
	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/meshsync/fingerprint"
)

func suffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func serve(t *testing.T, m adapter.Mesh) adapterv1.AdapterClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := adapter.NewServer(ctx, m, adapter.Options{Version: "test", ClusterTimeout: 150 * time.Second})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = s.Serve(ctx, lis); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return adapterv1.NewAdapterClient(cc)
}

// run applies an operation, follows its events to the end, and returns both.
func run(t *testing.T, cl adapterv1.AdapterClient, req *adapterv1.ApplyRequest) (*adapterv1.OperationStatus, []*adapterv1.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := cl.Apply(ctx, req); err != nil {
		t.Fatal(err)
	}
	st, err := cl.Events(ctx, &adapterv1.EventsRequest{OperationId: req.OperationId})
	if err != nil {
		t.Fatal(err)
	}
	var evs []*adapterv1.Event
	for {
		e, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	os, err := cl.GetOperation(ctx, &adapterv1.GetOperationRequest{OperationId: req.OperationId})
	if err != nil {
		t.Fatal(err)
	}
	return os, evs
}

func result(os *adapterv1.OperationStatus, cluster string) *adapterv1.ClusterResult {
	for _, r := range os.GetClusters() {
		if r.GetCluster() == cluster {
			return r
		}
	}
	return nil
}

func fingerprintOf(t *testing.T, cs kubernetes.Interface, ns string) fingerprint.Report {
	t.Helper()
	ctx := context.Background()
	var objs []fingerprint.Object
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		o := fingerprint.Object{Group: "apps", Version: "v1", Kind: fingerprint.KindDeployment, Namespace: d.Namespace, Name: d.Name,
			Labels: d.Labels, Annotations: d.Annotations, PodLabels: d.Spec.Template.Labels, PodAnnotations: d.Spec.Template.Annotations}
		for _, c := range d.Spec.Template.Spec.Containers {
			o.Containers = append(o.Containers, fingerprint.Container{Name: c.Name, Image: c.Image})
		}
		objs = append(objs, o)
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var crds struct {
		Items []struct {
			Metadata struct{ Name string }
		}
	}
	if err := json.Unmarshal(raw, &crds); err != nil {
		t.Fatal(err)
	}
	for _, c := range crds.Items {
		objs = append(objs, fingerprint.Object{Group: "apiextensions.k8s.io", Version: "v1", Kind: fingerprint.KindCRD, Name: c.Metadata.Name})
	}
	return fingerprint.Identify(objs)
}

// Istio on c1 and c2 at once with c3's API server down: c1 and c2 succeed and are
// fingerprinted with the installed version, c3 fails alone with its cause; events
// arrive in order per cluster; the sample app and injection work; uninstall removes
// everything, CRDs and the namespace included.
func TestIstioOnTwoClustersWithAThirdDown(t *testing.T) {
	merged := k8stest.Require(t, 3)
	repo := chartstest.Serve(t, append(chartstest.Istio("1.24.2"), chartstest.Istio("1.23.4")...)...)
	cl := serve(t, istio.New(repo.URL, "ghcr.io/meshperf/meshperf:test"))
	ns := "mp-istio-" + suffix()
	c3 := k8stest.DownServer(t, merged, "c3")
	clusters := []*adapterv1.Cluster{
		{Name: "c1", Kubeconfig: k8stest.One(t, merged, "c1", "")},
		{Name: "c2", Kubeconfig: k8stest.One(t, merged, "c2", "")},
		{Name: "c3", Kubeconfig: k8stest.One(t, merged, "c3", c3)},
	}
	cs := map[string]kubernetes.Interface{"c1": k8stest.Clientset(t, merged, "c1"), "c2": k8stest.Clientset(t, merged, "c2")}
	t.Cleanup(func() { // whatever happened, leave nothing behind
		for _, c := range cs {
			_ = c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
			k8stest.DeleteClusterScoped(t, c, "app.kubernetes.io/managed-by=meshperf,meshperf.io/mesh=istio")
		}
	})

	info, err := cl.Info(context.Background(), &adapterv1.InfoRequest{})
	if err != nil || strings.Join(info.GetMeshVersions(), ",") != "1.24.2,1.23.4" {
		t.Fatalf("info %v %v", info, err)
	}

	os, evs := run(t, cl, &adapterv1.ApplyRequest{OperationId: "install-" + ns, Kind: adapterv1.OperationKind_OPERATION_KIND_INSTALL,
		Clusters: clusters, Namespace: ns, Version: "1.24.2"})
	if os.GetState() != adapterv1.State_STATE_FAILED {
		t.Errorf("operation state %s, want failed (c3 is down)", os.GetState())
	}
	for _, c := range []string{"c1", "c2"} {
		r := result(os, c)
		if r.GetState() != adapterv1.State_STATE_SUCCEEDED || r.GetDetails()["version"] != "1.24.2" {
			t.Fatalf("%s: %v", c, r)
		}
	}
	if r := result(os, "c3"); r.GetState() != adapterv1.State_STATE_FAILED || !strings.Contains(r.GetCause(), "unreachable") || r.GetRemedy() == "" {
		t.Fatalf("c3: %v, want failed with the API server unreachable as its cause", r)
	}
	perCluster := map[string]uint64{}
	var last = map[string]*adapterv1.Event{}
	sawAvailable := map[string]bool{}
	for i, e := range evs {
		if e.GetSequence() != uint64(i+1) {
			t.Fatalf("event %d: sequence %d", i, e.GetSequence())
		}
		if c := e.GetCluster(); c != "" {
			if e.GetClusterSequence() != perCluster[c]+1 {
				t.Fatalf("%s: event %d after %d", c, e.GetClusterSequence(), perCluster[c])
			}
			perCluster[c] = e.GetClusterSequence()
			last[c] = e
			if strings.Contains(e.GetSummary(), "Deployment "+ns+"/istiod available") {
				sawAvailable[c] = true
			}
		}
	}
	for _, c := range []string{"c1", "c2"} {
		if !sawAvailable[c] || last[c].GetClusterState() != adapterv1.State_STATE_SUCCEEDED {
			t.Errorf("%s: events end with %v; istiod available seen: %v", c, last[c], sawAvailable[c])
		}
		rep := fingerprintOf(t, cs[c], ns)
		if len(rep.Meshes) != 1 || rep.Meshes[0].Type != "istio" || rep.Meshes[0].Version != "1.24.2" {
			t.Errorf("%s fingerprint: %+v", c, rep.Meshes)
		}
	}
	if last["c3"].GetSeverity() != adapterv1.Severity_SEVERITY_ERROR || last["c3"].GetCause() == "" {
		t.Errorf("c3's last event %v", last["c3"])
	}

	// The sample app in the mesh (c1), then injection on another namespace.
	sns := "mp-sample-" + suffix()
	t.Cleanup(func() { _ = cs["c1"].CoreV1().Namespaces().Delete(context.Background(), sns, metav1.DeleteOptions{}) })
	os, _ = run(t, cl, &adapterv1.ApplyRequest{OperationId: "sample-" + sns, Kind: adapterv1.OperationKind_OPERATION_KIND_SAMPLE_DEPLOY,
		Clusters: clusters[:1], Namespace: sns, Parameters: map[string]string{"inject": "true"}})
	if os.GetState() != adapterv1.State_STATE_SUCCEEDED {
		t.Fatalf("sample deploy: %v", os)
	}
	d, err := cs["c1"].AppsV1().Deployments(sns).Get(context.Background(), "meshperf-target", metav1.GetOptions{})
	if err != nil || d.Spec.Template.Labels["sidecar.istio.io/inject"] != "true" || d.Status.AvailableReplicas != 1 {
		t.Fatalf("sample app: %v %v", d, err)
	}
	os, _ = run(t, cl, &adapterv1.ApplyRequest{OperationId: "inject-" + sns, Kind: adapterv1.OperationKind_OPERATION_KIND_CONFIGURE_INJECTION,
		Clusters: clusters[:1], Namespace: sns})
	if n, err := cs["c1"].CoreV1().Namespaces().Get(context.Background(), sns, metav1.GetOptions{}); os.GetState() != adapterv1.State_STATE_SUCCEEDED || err != nil || n.Labels["istio-injection"] != "enabled" {
		t.Fatalf("injection: %v %v", os, err)
	}
	os, _ = run(t, cl, &adapterv1.ApplyRequest{OperationId: "unsample-" + sns, Kind: adapterv1.OperationKind_OPERATION_KIND_SAMPLE_REMOVE,
		Clusters: clusters[:1], Namespace: sns})
	if _, err := cs["c1"].CoreV1().Namespaces().Get(context.Background(), sns, metav1.GetOptions{}); os.GetState() != adapterv1.State_STATE_SUCCEEDED || !apierrors.IsNotFound(err) {
		t.Fatalf("sample remove: %v; namespace: %v", os, err)
	}

	// Mesh-wide mTLS (c1): a PeerAuthentication in the control plane's namespace.
	os, _ = run(t, cl, &adapterv1.ApplyRequest{OperationId: "mtls-" + ns, Kind: adapterv1.OperationKind_OPERATION_KIND_CONFIGURE_MTLS,
		Clusters: clusters[:1], Namespace: ns, Parameters: map[string]string{"mode": "strict"}})
	if os.GetState() != adapterv1.State_STATE_SUCCEEDED {
		t.Fatalf("mtls: %v", os)
	}
	raw, err := cs["c1"].Discovery().RESTClient().Get().AbsPath("/apis/security.istio.io/v1/namespaces/" + ns + "/peerauthentications/default").DoRaw(context.Background())
	if err != nil || !strings.Contains(string(raw), `"STRICT"`) {
		t.Fatalf("PeerAuthentication: %v %s", err, raw)
	}

	// Uninstall removes everything: workloads, CRDs, cluster roles, the namespace.
	os, _ = run(t, cl, &adapterv1.ApplyRequest{OperationId: "uninstall-" + ns, Kind: adapterv1.OperationKind_OPERATION_KIND_UNINSTALL,
		Clusters: clusters[:2], Namespace: ns})
	if os.GetState() != adapterv1.State_STATE_SUCCEEDED {
		t.Fatalf("uninstall: %v", os)
	}
	for c, k := range cs {
		if _, err := k.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: namespace %s still there (%v)", c, ns, err)
		}
		if _, err := k.RbacV1().ClusterRoles().Get(context.Background(), "istiod-clusterrole-"+ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: cluster role still there (%v)", c, err)
		}
		if rep := fingerprintOf(t, k, ns); len(rep.Meshes) != 0 {
			t.Errorf("%s: still fingerprinted %+v", c, rep.Meshes)
		}
		if gs, err := k.Discovery().ServerGroups(); err == nil {
			for _, g := range gs.Groups {
				if strings.HasSuffix(g.Name, "istio.io") {
					t.Errorf("%s: API group %s (the CRDs) still served", c, g.Name)
				}
			}
		}
	}
}
