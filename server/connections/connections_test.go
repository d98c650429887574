package connections

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

// syncBuffer is a log sink that tests read while the manager writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newManager(t *testing.T, st *store.Store, opt Options) (*Manager, *syncBuffer) {
	t.Helper()
	box, _, err := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	opt.Box = box
	opt.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return New(st, opt), logs
}

// secretsOf returns strings from a kubeconfig that must never show up in logs or
// database columns: each user's token and key material.
func secretsOf(t *testing.T, kubeconfig []byte) []string {
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range cfg.AuthInfos {
		if len(u.ClientKeyData) > 0 {
			out = append(out, base64.StdEncoding.EncodeToString(u.ClientKeyData)[:40], string(u.ClientKeyData[40:100]))
		}
		if u.Token != "" {
			out = append(out, u.Token)
		}
	}
	if len(out) == 0 {
		t.Fatal("the test kubeconfig has no credentials to look for")
	}
	return out
}

// Three real clusters and a fourth context aliasing c1: contexts become connections,
// the alias is the same cluster, a re-add refreshes the credential, credentials are
// sealed in the database and never logged, and removing a cluster flushes exactly its
// rows.
func TestAddDedupSealFlush(t *testing.T) {
	merged := k8stest.Require(t, 3)
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, kind)
			m, logs := newManager(t, st, Options{})
			kc := k8stest.Contexts(t, merged, []string{"c1", "c2", "c3"}, map[string]string{"c1-again": "c1"})

			res, err := m.Add(ctx, kc, nil, false, "alice")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]AddResult{}
			for _, r := range res {
				got[r.Context] = r
			}
			for _, n := range []string{"c1", "c2", "c3"} {
				if got[n].Outcome != store.ConnAdded || got[n].Connection.State != string(Connected) {
					t.Fatalf("%s: %+v", n, got[n])
				}
			}
			if r := got["c1-again"]; r.Outcome != store.ConnDuplicate || r.DuplicateOf != "c1" {
				t.Fatalf("c1-again should be a duplicate of c1: %+v", r)
			}
			if got["c1"].Connection.ClusterUID == got["c2"].Connection.ClusterUID {
				t.Fatal("two clusters share a UID")
			}

			again, err := m.Add(ctx, kc, []string{"c1"}, false, "alice")
			if err != nil || len(again) != 1 || again[0].Outcome != store.ConnUpdated || again[0].Connection.ID != got["c1"].Connection.ID {
				t.Fatalf("re-adding c1: %+v %v", again, err)
			}

			list, err := m.List(ctx)
			if err != nil || len(list) != 3 {
				t.Fatalf("list: %d %v", len(list), err)
			}
			for _, v := range list {
				if v.Version != "v1.36.3" || v.NodeCount != 1 || v.LastCheck == nil {
					t.Fatalf("%s: version %q nodes %d", v.Name, v.Version, v.NodeCount)
				}
			}
			c1, err := m.Get(ctx, "c1")
			if err != nil || len(c1.Nodes) != 1 || c1.Nodes[0].Cores != 8 || c1.Nodes[0].MemoryMB != 32768 || !c1.Nodes[0].Ready {
				t.Fatalf("c1 inventory: %+v %v", c1, err)
			}

			// Sealed at rest, never logged.
			rows, _ := st.ListConnections(ctx)
			for _, s := range secretsOf(t, kc) {
				for _, r := range rows {
					if bytes.Contains(r.Credential, []byte(s)) {
						t.Fatalf("connection %s stores a credential in clear", r.Name)
					}
				}
				if strings.Contains(logs.String(), s) {
					t.Fatal("a credential reached the logs")
				}
			}
			if !strings.Contains(logs.String(), "cluster connection added") {
				t.Fatalf("no log of the additions: %s", logs.String())
			}

			// Agent deployment records for two clusters, then remove c2: only c2's rows go.
			for _, n := range []string{"c1", "c2"} {
				c, _ := st.GetConnection(ctx, n)
				if err := st.SaveAgentDeployment(ctx, &store.AgentDeployment{ConnectionID: c.ID, Namespace: "meshperf", Replicas: 2}); err != nil {
					t.Fatal(err)
				}
			}
			c2, _ := st.GetConnection(ctx, "c2")
			f, err := m.Remove(ctx, "c2", "alice")
			if err != nil || f != (store.Flushed{Connections: 1, Nodes: 1, AgentDeployments: 1}) {
				t.Fatalf("flush: %+v %v", f, err)
			}
			if _, err := m.Get(ctx, "c2"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("c2 still there: %v", err)
			}
			if n, _ := st.ClusterNodes(ctx, c2.ID); len(n) != 0 {
				t.Fatal("c2's nodes were kept")
			}
			if d, _ := st.AgentDeployments(ctx, c2.ID); len(d) != 0 {
				t.Fatal("c2's agent deployments were kept")
			}
			for _, n := range []string{"c1", "c3"} {
				v, err := m.Get(ctx, n)
				if err != nil || len(v.Nodes) != 1 {
					t.Fatalf("%s lost rows when c2 was removed: %+v %v", n, v, err)
				}
				if _, err := m.Check(ctx, n); err != nil { // its sealed credential still opens
					t.Fatal(err)
				}
			}
			c1row, _ := st.GetConnection(ctx, "c1")
			if d, _ := st.AgentDeployments(ctx, c1row.ID); len(d) != 1 {
				t.Fatal("c1's agent deployment went with c2")
			}
			// c2 can come back.
			if res, _ := m.Add(ctx, kc, []string{"c2"}, false, "alice"); res[0].Outcome != store.ConnAdded {
				t.Fatalf("re-adding c2 after removal: %+v", res[0])
			}
		})
	}
}

// A kubeconfig naming an unreachable server: that context fails, the others are added.
func TestAddUnreachableFailsOnlyItsContext(t *testing.T) {
	merged := k8stest.Require(t, 1)
	cfg, _ := clientcmd.Load(k8stest.Contexts(t, merged, []string{"c1"}, map[string]string{"gone": "c1"}))
	dead := cfg.Clusters["c1"].DeepCopy()
	dead.Server = "https://127.0.0.1:1" // nothing listens there
	cfg.Clusters["dead"] = dead
	cfg.Contexts["gone"].Cluster = "dead"
	kc, _ := clientcmd.Write(*cfg)
	m, _ := newManager(t, storetest.Open(t, "sqlite"), Options{})
	res, err := m.Add(context.Background(), kc, nil, false, "bob")
	if err != nil || len(res) != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if res[0].Context != "c1" || res[0].Outcome != store.ConnAdded {
		t.Fatalf("c1: %+v", res[0])
	}
	if res[1].Context != "gone" || res[1].Outcome != Failed || !strings.Contains(res[1].Error, "127.0.0.1:1") {
		t.Fatalf("gone: %+v", res[1])
	}
	if list, _ := m.List(context.Background()); len(list) != 1 {
		t.Fatalf("stored %d connections, want 1", len(list))
	}
}

// Cluster c3's API server stops and starts again: the periodic checks move the
// connection to disconnected and back; maintenance keeps it where it is; a person
// connecting an unreachable cluster gets disconnected or a refusal, as the state
// machine says.
func TestHealthStateTransitionsWithARealAPIServer(t *testing.T) {
	merged := k8stest.Require(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := storetest.Open(t, "sqlite")
	m, _ := newManager(t, st, Options{CheckInterval: 200 * time.Millisecond})
	if res, err := m.Add(ctx, k8stest.Contexts(t, merged, []string{"c1", "c3"}, nil), nil, false, "ops"); err != nil || res[1].Outcome != store.ConnAdded {
		t.Fatalf("%+v %v", res, err)
	}
	go m.Run(ctx)
	waitState := func(name string, want State) *View {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			v, err := m.Get(ctx, name)
			if err == nil && v.State == string(want) {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not become %s: %+v %v", name, want, v, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	k8stest.StopAPIServer(t, 3)
	v := waitState("c3", Disconnected)
	if v.LastError == "" {
		t.Fatal("a disconnected cluster without the error that disconnected it")
	}
	if c1, _ := m.Get(ctx, "c1"); c1.State != string(Connected) {
		t.Fatalf("c1 moved with c3: %s", c1.State)
	}
	k8stest.StartAPIServer(t, 3)
	v = waitState("c3", Connected)
	if v.LastError != "" {
		t.Fatalf("connected with an error: %s", v.LastError)
	}

	// Maintenance: checks pause, a stopped API server moves nothing.
	if _, err := m.SetState(ctx, "c3", Maintenance, "ops"); err != nil {
		t.Fatal(err)
	}
	k8stest.StopAPIServer(t, 3)
	time.Sleep(1 * time.Second) // five check periods
	if v, _ := m.Get(ctx, "c3"); v.State != string(Maintenance) {
		t.Fatalf("maintenance became %s", v.State)
	}
	// Leaving maintenance for connected while the cluster is down: disconnected.
	if v, err := m.SetState(ctx, "c3", Connected, "ops"); err != nil || v.State != string(Disconnected) {
		t.Fatalf("maintenance -> connected with the API server down: %+v %v", v, err)
	}
	// Ignored cannot become disconnected: connecting it while down is refused.
	if _, err := m.SetState(ctx, "c3", Ignored, "ops"); err != nil {
		t.Fatal(err)
	}
	var ue *UnreachableError
	if _, err := m.SetState(ctx, "c3", Connected, "ops"); !errors.As(err, &ue) || !strings.Contains(err.Error(), "cannot connect c3") {
		t.Fatalf("connecting an ignored, unreachable cluster: %v", err)
	}
	// Refused moves say what is allowed.
	var te *TransitionError
	if _, err := m.SetState(ctx, "c3", Maintenance, "ops"); !errors.As(err, &te) {
		t.Fatalf("ignored -> maintenance: %v", err)
	}
	k8stest.StartAPIServer(t, 3)
	if v, err := m.SetState(ctx, "c3", Connected, "ops"); err != nil || v.State != string(Connected) {
		t.Fatalf("ignored -> connected once up: %+v %v", v, err)
	}
	// An on-demand check of a healthy cluster records it.
	before, _ := m.Get(ctx, "c3")
	time.Sleep(10 * time.Millisecond)
	after, err := m.Check(ctx, "c3")
	if err != nil || !after.LastCheck.After(*before.LastCheck) {
		t.Fatalf("check: %v", err)
	}
	// Deleted is final: the connection and its rows are gone.
	if _, err := m.SetState(ctx, "c3", Deleted, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, "c3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted connection still found: %v", err)
	}
}

// Discovered connections wait for a person: health checks leave them alone, and
// connecting one checks it first.
func TestDiscoveredThenConnected(t *testing.T) {
	merged := k8stest.Require(t, 1)
	ctx := context.Background()
	m, _ := newManager(t, storetest.Open(t, "sqlite"), Options{})
	res, err := m.Add(ctx, k8stest.Contexts(t, merged, []string{"c1"}, nil), nil, true, "ops")
	if err != nil || res[0].Connection.State != string(Discovered) {
		t.Fatalf("%+v %v", res, err)
	}
	m.CheckAll(ctx)
	if v, _ := m.Get(ctx, "c1"); v.State != string(Discovered) {
		t.Fatalf("a health check moved a discovered connection to %s", v.State)
	}
	if _, err := m.Usable(ctx, "c1"); err == nil {
		t.Fatal("a discovered connection is usable")
	}
	if _, err := m.SetState(ctx, "c1", Maintenance, "ops"); err == nil {
		t.Fatal("discovered -> maintenance was allowed")
	}
	if v, err := m.SetState(ctx, "c1", Connected, "ops"); err != nil || v.State != string(Connected) || v.LastError != "" {
		t.Fatalf("connect: %+v %v", v, err)
	}
	if _, err := m.Usable(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
}

// A server that starts checks at once: a cluster lost while it was down shows as
// disconnected without waiting a whole check interval.
func TestRunChecksAtStart(t *testing.T) {
	merged := k8stest.Require(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, _ := newManager(t, storetest.Open(t, "sqlite"), Options{CheckInterval: time.Hour})
	if res, err := m.Add(ctx, k8stest.Contexts(t, merged, []string{"c3"}, nil), nil, false, "ops"); err != nil || res[0].Outcome != store.ConnAdded {
		t.Fatalf("%+v %v", res, err)
	}
	k8stest.StopAPIServer(t, 3)
	go m.Run(ctx)
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, _ := m.Get(ctx, "c3")
		if v.State == string(Disconnected) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s: the first check waited for the interval", v.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
