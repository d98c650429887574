package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	adapterv1 "github.com/meshperf/meshperf/adapters/proto/meshperf/adapter/v1"
	"github.com/meshperf/meshperf/apitypes"
)

// stepMesh is a Mesh of the library's own test: it touches no cluster (the library's
// behaviour is what is tested here; the real meshes are tested on real clusters in
// their packages). Cluster "bad" fails; every cluster emits `steps` events.
type stepMesh struct {
	steps int
	gate  chan struct{} // when set, Do waits for it
	mu    sync.Mutex
	calls map[string]int
}

func (m *stepMesh) Name() string   { return "test" }
func (m *stepMesh) Source() string { return "memory" }
func (m *stepMesh) Versions(context.Context) ([]string, error) {
	return []string{"1.1.0", "1.0.0"}, nil
}
func (m *stepMesh) Operations() []*adapterv1.OperationDescriptor { return testOps }

var testOps = []*adapterv1.OperationDescriptor{
	{Kind: adapterv1.OperationKind_OPERATION_KIND_INSTALL, Implemented: true, Parameters: []*adapterv1.ParameterDescriptor{
		{Name: "profile", Allowed: []string{"default", "minimal"}, Default: "default"}}},
	{Kind: adapterv1.OperationKind_OPERATION_KIND_VALIDATE, Implemented: false, Reason: "conformance is not wired yet"},
}

func (m *stepMesh) Do(ctx context.Context, op Operation, c Target) (map[string]string, error) {
	m.mu.Lock()
	m.calls[c.Name]++
	m.mu.Unlock()
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for i := 1; i <= m.steps; i++ {
		c.Info("step %d", i)
	}
	if c.Name == "bad" {
		return nil, Fail(errors.New("boom"), "installing", "the test says so", "do not name a cluster bad")
	}
	return map[string]string{"version": op.Version, "profile": op.Parameters["profile"]}, nil
}

const kc = `apiVersion: v1
kind: Config
clusters: [{name: x, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: x, user: {token: t}}]
contexts: [{name: x, context: {cluster: x, user: x}}]
current-context: x
`

func startServer(t *testing.T, m Mesh) (adapterv1.AdapterClient, *grpc.ClientConn) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := NewServer(ctx, m, Options{Version: "test", ClusterTimeout: 10 * time.Second})
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
	return adapterv1.NewAdapterClient(cc), cc
}

func clusters(names ...string) []*adapterv1.Cluster {
	var out []*adapterv1.Cluster
	for _, n := range names {
		out = append(out, &adapterv1.Cluster{Name: n, Kubeconfig: []byte(kc)})
	}
	return out
}

func TestPerClusterResultsAndOrderedResumableEvents(t *testing.T) {
	m := &stepMesh{steps: 50, calls: map[string]int{}}
	cl, cc := startServer(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	hs, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: HealthService})
	if err != nil || hs.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", hs, err)
	}
	info, err := cl.Info(ctx, &adapterv1.InfoRequest{})
	if err != nil || info.GetMesh() != "test" || info.GetContractVersion() != "v1" || len(info.GetMeshVersions()) != 2 {
		t.Fatalf("info: %v %v", info, err)
	}

	req := &adapterv1.ApplyRequest{OperationId: "op-1", Kind: adapterv1.OperationKind_OPERATION_KIND_INSTALL,
		Clusters: clusters("a", "b", "bad"), Version: "1.1.0"}
	if _, err := cl.Apply(ctx, req); err != nil {
		t.Fatal(err)
	}
	// A second Apply of the same id starts nothing.
	if _, err := cl.Apply(ctx, req); err != nil {
		t.Fatal(err)
	}
	// Read part of the stream, drop it, resume from the last sequence seen.
	var got []*adapterv1.Event
	st, err := cl.Events(ctx, &adapterv1.EventsRequest{OperationId: "op-1"})
	if err != nil {
		t.Fatal(err)
	}
	for len(got) < 20 {
		e, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	st2, err := cl.Events(ctx, &adapterv1.EventsRequest{OperationId: "op-1", AfterSequence: got[len(got)-1].GetSequence()})
	if err != nil {
		t.Fatal(err)
	}
	for {
		e, err := st2.Recv()
		if err != nil {
			if strings.Contains(err.Error(), "EOF") || status.Code(err) == codes.OK {
				break
			}
			t.Fatal(err)
		}
		got = append(got, e)
	}
	perCluster := map[string]uint64{}
	for i, e := range got {
		if e.GetSequence() != uint64(i+1) {
			t.Fatalf("event %d has sequence %d: a gap or a repeat", i, e.GetSequence())
		}
		if c := e.GetCluster(); c != "" {
			if e.GetClusterSequence() != perCluster[c]+1 {
				t.Fatalf("cluster %s: sequence %d after %d", c, e.GetClusterSequence(), perCluster[c])
			}
			perCluster[c] = e.GetClusterSequence()
		}
	}
	// working + 50 steps + final, per cluster.
	for _, c := range []string{"a", "b", "bad"} {
		if perCluster[c] != 52 {
			t.Errorf("cluster %s: %d events, want 52", c, perCluster[c])
		}
		if m.calls[c] != 1 {
			t.Errorf("cluster %s worked %d times, want once (Apply is idempotent)", c, m.calls[c])
		}
	}
	if last := got[len(got)-1]; last.GetCluster() != "" || last.GetSeverity() != adapterv1.Severity_SEVERITY_ERROR {
		t.Errorf("last event %v: want the operation's failed summary", last)
	}

	os, err := cl.GetOperation(ctx, &adapterv1.GetOperationRequest{OperationId: "op-1"})
	if err != nil {
		t.Fatal(err)
	}
	if os.GetState() != adapterv1.State_STATE_FAILED || len(os.GetClusters()) != 3 {
		t.Fatalf("status %v", os)
	}
	for _, r := range os.GetClusters() {
		switch r.GetCluster() {
		case "bad":
			if r.GetState() != adapterv1.State_STATE_FAILED || r.GetCause() != "the test says so" || r.GetRemedy() == "" {
				t.Errorf("bad: %v", r)
			}
		default:
			if r.GetState() != adapterv1.State_STATE_SUCCEEDED || r.GetDetails()["version"] != "1.1.0" || r.GetDetails()["profile"] != "default" {
				t.Errorf("%s: %v", r.GetCluster(), r)
			}
		}
	}
}

func TestUnimplementedValidateFailsEveryClusterWithItsReason(t *testing.T) {
	cl, _ := startServer(t, &stepMesh{calls: map[string]int{}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.Apply(ctx, &adapterv1.ApplyRequest{OperationId: "v", Kind: adapterv1.OperationKind_OPERATION_KIND_VALIDATE, Clusters: clusters("a", "b")}); err != nil {
		t.Fatal(err)
	}
	os := waitDone(t, ctx, cl, "v")
	for _, r := range os.GetClusters() {
		if r.GetState() != adapterv1.State_STATE_FAILED || !strings.Contains(r.GetCause(), "conformance is not wired") {
			t.Errorf("%v", r)
		}
	}
}

func TestApplyRefusesBadInputNamingTheField(t *testing.T) {
	cl, _ := startServer(t, &stepMesh{calls: map[string]int{}})
	ctx := context.Background()
	for _, c := range []struct {
		req   *adapterv1.ApplyRequest
		field string
	}{
		{&adapterv1.ApplyRequest{OperationId: "", Kind: adapterv1.OperationKind_OPERATION_KIND_INSTALL, Clusters: clusters("a")}, "operation_id"},
		{&adapterv1.ApplyRequest{OperationId: "x", Kind: adapterv1.OperationKind_OPERATION_KIND_UNINSTALL, Clusters: clusters("a")}, "kind"},
		{&adapterv1.ApplyRequest{OperationId: "x", Kind: adapterv1.OperationKind_OPERATION_KIND_INSTALL}, "clusters"},
		{&adapterv1.ApplyRequest{OperationId: "x", Kind: adapterv1.OperationKind_OPERATION_KIND_INSTALL, Clusters: clusters("a", "a")}, "clusters[1].name"},
		{&adapterv1.ApplyRequest{OperationId: "x", Kind: adapterv1.OperationKind_OPERATION_KIND_INSTALL, Clusters: clusters("a"), Namespace: "Bad_NS"}, "namespace"},
		{&adapterv1.ApplyRequest{OperationId: "x", Kind: adapterv1.OperationKind_OPERATION_KIND_INSTALL, Clusters: clusters("a"), Parameters: map[string]string{"profile": "huge"}}, "parameters.profile"},
		{&adapterv1.ApplyRequest{OperationId: "x", Kind: adapterv1.OperationKind_OPERATION_KIND_INSTALL, Clusters: clusters("a"), Parameters: map[string]string{"nope": "1"}}, "parameters.nope"},
	} {
		_, err := cl.Apply(ctx, c.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%v: got %v, want InvalidArgument naming %s", c.req, err, c.field)
		}
	}
	if _, err := cl.GetOperation(ctx, &adapterv1.GetOperationRequest{OperationId: "x"}); status.Code(err) != codes.NotFound {
		t.Errorf("a refused Apply left an operation behind: %v", err)
	}
}

func TestClusterTimeoutFailsOnlyThatCluster(t *testing.T) {
	m := &stepMesh{calls: map[string]int{}, gate: make(chan struct{})}
	cl, _ := startServer(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cl.Apply(ctx, &adapterv1.ApplyRequest{OperationId: "t", Kind: adapterv1.OperationKind_OPERATION_KIND_INSTALL,
		Clusters: clusters("slow"), ClusterTimeoutSeconds: 1}); err != nil {
		t.Fatal(err)
	}
	os := waitDone(t, ctx, cl, "t")
	r := os.GetClusters()[0]
	if r.GetState() != adapterv1.State_STATE_FAILED || !strings.Contains(r.GetCause(), "deadline") {
		t.Fatalf("%v", r)
	}
	close(m.gate)
}

func waitDone(t *testing.T, ctx context.Context, cl adapterv1.AdapterClient, id string) *adapterv1.OperationStatus {
	t.Helper()
	for {
		os, err := cl.GetOperation(ctx, &adapterv1.GetOperationRequest{OperationId: id})
		if err != nil {
			t.Fatal(err)
		}
		if os.GetState() != adapterv1.State_STATE_RUNNING {
			return os
		}
		select {
		case <-ctx.Done():
			t.Fatalf("operation %s still running: %v", id, os)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func FuzzCheckParameters(f *testing.F) {
	f.Add("profile", "default", "x", "y")
	f.Add("profile", "huge", "", "")
	f.Add("\xff", "\xfe", "profile", "minimal")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		in := map[string]string{k1: v1, k2: v2}
		out, errs := CheckParameters(in, testOps[0])
		if len(errs) == 0 {
			for k, v := range out {
				if k != "profile" || (v != "default" && v != "minimal") {
					t.Fatalf("accepted %q=%q", k, v)
				}
			}
		}
		for _, e := range errs {
			if e.Path == "" || e.Msg == "" {
				t.Fatalf("an error without its field: %+v", e)
			}
		}
		_ = fmt.Sprint(out)
	})
}

// The registrar retries with back-off while the server is away (here: answering 503),
// registers once it is back, and keeps re-registering (idempotent on the server).
func TestRegistrarRetriesUntilTheServerIsBack(t *testing.T) {
	var calls, okCalls atomic.Int64
	var mu sync.Mutex
	var got []apitypes.AdapterRegistration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Path != "/api/v1/adapters" {
			t.Errorf("request %s %s", r.URL.Path, r.Header.Get("Authorization"))
		}
		if n <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var reg apitypes.AdapterRegistration
		_ = json.NewDecoder(r.Body).Decode(&reg)
		mu.Lock()
		got = append(got, reg)
		mu.Unlock()
		okCalls.Add(1)
		_ = json.NewEncoder(w).Encode(apitypes.Adapter{ID: "a1", Address: reg.Address, Mesh: reg.Mesh})
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r := &Registrar{Server: srv.URL, Token: "tok", Address: "127.0.0.1:10000", Mesh: "istio",
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Refresh: 20 * time.Millisecond}
	go func() { r.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for okCalls.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("registered %d times after %d calls", okCalls.Load(), calls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	for _, g := range got {
		if g.Address != "127.0.0.1:10000" || g.Mesh != "istio" {
			t.Errorf("registration %+v", g)
		}
	}
}
