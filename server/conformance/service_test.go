package conformance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	suite "github.com/meshperf/meshperf/conformance"
	"github.com/meshperf/meshperf/conformance/testmesh"
	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

// A run on a connected cluster (c1, with the stand-in test mesh: no real mesh runs
// here) is recorded, signed with the server's key and shows in the matrix; the key
// survives a restart sealed; an uploaded report is verified before it is kept.
func TestRunOnConnectedClusterSignedAndInMatrix(t *testing.T) {
	merged := k8stest.Require(t, 1)
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	box, _, err := secrets.LoadOrCreate(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	conns := connections.New(st, connections.Options{Box: box})
	if res, err := conns.Add(ctx, k8stest.Contexts(t, merged, []string{"c1"}, nil), nil, false, "ops"); err != nil || len(res) != 1 {
		t.Fatalf("adding c1: %+v %v", res, err)
	}
	svc, err := New(ctx, st, conns, nil, box, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	conn, err := conns.Usable(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := conns.RESTConfig(conn)
	mesh, err := testmesh.Start(ctx, testmesh.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer mesh.Close()
	svc.Tune = func(o *suite.Options) {
		o.Reacher, o.NamespaceLabels, o.StepTimeout = mesh.Reacher(), testmesh.Labels(), 3*time.Second
	}

	if _, err := svc.Start(ctx, RunRequest{Cluster: "c1", Profiles: []string{"GRPC"}}, "ops"); !isInput(err, "profiles") {
		t.Errorf("unknown profile: %v", err)
	}
	if _, err := svc.Start(ctx, RunRequest{Cluster: "c1", Profiles: []string{"MESH-GRPC"}, StepTimeout: "1ms"}, "ops"); !isInput(err, "step_timeout") {
		t.Errorf("bad step timeout: %v", err)
	}
	if _, err := svc.Start(ctx, RunRequest{Cluster: "nope", Profiles: []string{"MESH-GRPC"}}, "ops"); err == nil {
		t.Error("unknown cluster accepted")
	}
	run, err := svc.Start(ctx, RunRequest{Cluster: "c1", Profiles: []string{"mesh-grpc"}, Mesh: testmesh.Name, MeshVersion: "0.1.0"}, "ops")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for run.Status == store.ConformanceRunning && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		if run, err = st.GetConformanceRun(ctx, run.ID); err != nil {
			t.Fatal(err)
		}
	}
	if run.Status != store.ConformanceDone || !run.Conformant || run.Mesh != testmesh.Name || run.ClusterName != "c1" {
		t.Fatalf("run %+v", run)
	}
	if _, err := suite.Verify([]byte(run.Report), svc.PublicKey()); err != nil {
		t.Fatalf("the stored report does not verify with the server's key: %v", err)
	}
	cells, err := svc.Matrix(ctx)
	if err != nil || len(cells) != 1 || cells[0].Mesh != testmesh.Name || cells[0].Version != "0.1.0" || cells[0].Profile != "MESH-GRPC" ||
		cells[0].Core != suite.ResultSuccess || cells[0].Passed != 3 {
		t.Errorf("matrix %+v %v", cells, err)
	}

	// Restarted: the same key, unsealed from the database; the seed is not stored in clear.
	again, err := New(ctx, st, conns, nil, box, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !again.PublicKey().Equal(svc.PublicKey()) {
		t.Error("a restart changed the signing key")
	}
	k, _ := st.ConformanceKey(ctx)
	if bytes.Contains(k.Sealed, svc.key.Seed()) {
		t.Error("the signing key is stored unsealed")
	}
	other, _, _ := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "other.key"))
	locked, err := New(ctx, st, conns, nil, other, nil)
	if err != nil {
		t.Fatalf("a server with another secret key must still start (and serve stored reports): %v", err)
	}
	if _, err := locked.Start(ctx, RunRequest{Cluster: "c1", Profiles: []string{"MESH-GRPC"}}, "ops"); err == nil || !strings.Contains(err.Error(), "unseal") {
		t.Errorf("another server secret signed with the key: %v", err)
	}
	if !locked.PublicKey().Equal(svc.PublicKey()) {
		t.Error("the public key is not served when the private key is locked")
	}
	if runs, err := st.ListConformanceRuns(ctx, 10); err != nil || len(runs) == 0 {
		t.Errorf("stored runs: %d %v", len(runs), err)
	}
	locked.Close()

	// Uploads: a CI job's signed report is kept; an altered one is refused.
	ci, _ := suite.GenerateKey()
	rep, _ := Report(run)
	rep.Mesh.Version = "0.2.0"
	_ = rep.Sign(ci)
	var y bytes.Buffer
	_ = rep.Write(&y, suite.FormatYAML)
	if _, err := svc.Upload(ctx, y.Bytes(), "ci", svc.PublicKey()); !isInput(err, "not trusted") {
		t.Errorf("untrusted signer: %v", err)
	}
	up, err := svc.Upload(ctx, y.Bytes(), "ci", ci.Public().(ed25519.PublicKey))
	if err != nil || up.Status != store.ConformanceUploaded || up.MeshVersion != "0.2.0" {
		t.Fatalf("upload: %+v %v", up, err)
	}
	tampered := strings.Replace(y.String(), "result: success", "result: failure", 1)
	if _, err := svc.Upload(ctx, []byte(tampered), "ci"); !isInput(err, "altered") {
		t.Errorf("tampered upload: %v", err)
	}
	if cells, _ := svc.Matrix(ctx); len(cells) != 2 {
		t.Errorf("matrix after upload: %+v", cells)
	}

	// An adapter's validate operation: its unsigned report is signed here and kept
	// once per operation and cluster, under the connection's name.
	rep.Mesh.Version, rep.Mesh.Cluster, rep.Signature = "0.3.0", "inside-the-adapter", nil
	y.Reset()
	_ = rep.Write(&y, suite.FormatYAML)
	kept, err := svc.Keep(ctx, "op-1", "c1", y.Bytes(), "admin")
	if err != nil || kept.Status != store.ConformanceDone || kept.ClusterName != "c1" || kept.ClusterUID == "" || kept.MeshVersion != "0.3.0" {
		t.Fatalf("keep: %+v %v", kept, err)
	}
	if v, err := suite.Verify([]byte(kept.Report), svc.PublicKey()); err != nil || v.Mesh.Cluster != "c1" {
		t.Fatalf("a kept report verifies with the server's key: %v", err)
	}
	if again, err := svc.Keep(ctx, "op-1", "c1", y.Bytes(), "admin"); err != nil || again.ID != kept.ID {
		t.Errorf("keeping the same operation's report twice: %+v %v", again, err)
	}
	if _, err := svc.Keep(ctx, "op-2", "c1", []byte("not: [a report"), "admin"); !isInput(err, "report") {
		t.Errorf("junk kept: %v", err)
	}
	if cells, _ := svc.Matrix(ctx); len(cells) != 3 {
		t.Errorf("matrix after keep: %+v", cells)
	}
}

func isInput(err error, word string) bool {
	var ie *InputError
	return errors.As(err, &ie) && strings.Contains(ie.Msg, word)
}

// The store's side on both databases: runs are listed newest first without their
// reports, interrupted runs are failed at start, the first key is kept.
func TestStoreConformance(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, kind)
			a := &store.ConformanceRun{ID: "a", Status: store.ConformanceRunning, Mesh: "istio", CreatedAt: time.Now().Add(-time.Minute)}
			b := &store.ConformanceRun{ID: "b", Status: store.ConformanceRunning, Mesh: "linkerd"}
			for _, r := range []*store.ConformanceRun{a, b} {
				if err := st.CreateConformanceRun(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.FinishConformanceRun(ctx, "b", store.ConformanceDone, "{}", "k", "", true); err != nil {
				t.Fatal(err)
			}
			if err := st.FinishConformanceRun(ctx, "zzz", store.ConformanceDone, "", "", "", false); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("finishing a missing run: %v", err)
			}
			list, err := st.ListConformanceRuns(ctx, 10)
			if err != nil || len(list) != 2 || list[0].ID != "b" || list[0].Report != "" {
				t.Errorf("list %+v %v", list, err)
			}
			if err := st.FailInterruptedConformanceRuns(ctx); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.GetConformanceRun(ctx, "a"); got.Status != store.ConformanceFailed || got.FinishedAt == nil {
				t.Errorf("interrupted run %+v", got)
			}
			if fin, _ := st.FinishedConformanceRuns(ctx); len(fin) != 1 || fin[0].ID != "b" {
				t.Errorf("finished %+v", fin)
			}
			first, err := st.PutConformanceKey(ctx, &store.ConformanceKey{ID: "k1", PublicKey: "p1", Sealed: []byte{1}})
			if err != nil || first.ID != "k1" {
				t.Fatalf("first key %+v %v", first, err)
			}
			if kept, _ := st.PutConformanceKey(ctx, &store.ConformanceKey{ID: "k2", PublicKey: "p2", Sealed: []byte{2}}); kept.ID != "k1" {
				t.Errorf("second key replaced the first: %+v", kept)
			}
		})
	}
}
