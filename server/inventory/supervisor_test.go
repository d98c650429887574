package inventory_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/meshsync"
	"github.com/meshperf/meshperf/server/inventory"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

// runs records the MeshSyncs a supervisor runs. It stands in for meshsync.Run: what is
// under test is which discoveries run when, not discovery itself (tested in meshsync).
type runs struct {
	mu      sync.Mutex
	live    map[string]meshsync.Options // by cluster
	started map[string]int
	fail    map[string]bool
}

func (r *runs) run(ctx context.Context, opt meshsync.Options) error {
	r.mu.Lock()
	r.started[opt.Cluster]++
	if r.fail[opt.Cluster] {
		r.mu.Unlock()
		return errors.New("the API server refused the watch")
	}
	r.live[opt.Cluster] = opt
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	delete(r.live, opt.Cluster)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *runs) state() (live map[string]meshsync.Options, started map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	live, started = map[string]meshsync.Options{}, map[string]int{}
	for k, v := range r.live {
		live[k] = v
	}
	for k, v := range r.started {
		started[k] = v
	}
	return live, started
}

// TestSupervisorFollowsConnections: an embedded MeshSync runs for every connected
// cluster in embedded mode, stops when its connection leaves that state or mode or is
// removed, restarts with a new scope, and backs off when it fails.
func TestSupervisorFollowsConnections(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	r := &runs{live: map[string]meshsync.Options{}, started: map[string]int{}, fail: map[string]bool{"broken": true}}
	sup := inventory.NewSupervisor(inventory.SupervisorOptions{Store: st, Every: time.Hour, Run: r.run,
		RESTConfig: func(c *store.Connection) (*rest.Config, error) { return &rest.Config{Host: "https://" + c.Name}, nil }})
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sup.Run(sctx) }()
	add := func(name, uid, state string) *store.Connection {
		c, _, err := st.AddConnection(ctx, &store.Connection{ID: uuid.NewString(), Kind: store.ConnKubernetes, Name: name, State: state, ClusterUID: uid},
			nil, func(string) []byte { return []byte("sealed-" + name) })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := add("a", "uid-a", "connected")
	add("b", "uid-b", "discovered")
	add("broken", "broken", "connected")
	sup.Poke()
	waitFor(t, 10*time.Second, "a's MeshSync running", func() bool { live, _ := r.state(); _, ok := live["uid-a"]; return ok })
	waitFor(t, 10*time.Second, "the broken one tried", func() bool { e := sup.Embedded("broken"); return e != nil && e.Restarts >= 1 })
	live, _ := r.state()
	if len(live) != 1 || live["uid-a"].Mode != meshsync.ModeEmbedded || live["uid-a"].Config.Host != "https://a" {
		t.Fatalf("live %+v", live)
	}
	if e := sup.Embedded("broken"); e.LastError == "" {
		t.Errorf("the failure is not reported: %+v", e)
	}

	// A new scope restarts a's MeshSync with it.
	if err := st.SetConnectionMeshSync(ctx, a.ID, "", `{"exclude_namespaces":["kube-system"]}`); err != nil {
		t.Fatal(err)
	}
	sup.Poke()
	waitFor(t, 10*time.Second, "a restarted with its scope", func() bool {
		live, started := r.state()
		return started["uid-a"] == 2 && len(live["uid-a"].Scope.ExcludeNamespaces) == 1
	})
	// Operator mode: the server runs none for a.
	if err := st.SetConnectionMeshSync(ctx, a.ID, meshsync.ModeOperator, ""); err != nil {
		t.Fatal(err)
	}
	sup.Poke()
	waitFor(t, 10*time.Second, "a stopped in operator mode", func() bool { live, _ := r.state(); _, ok := live["uid-a"]; return !ok })
	if sup.Embedded("uid-a") != nil {
		t.Error("health still shows an embedded MeshSync for a")
	}
	// b connects; then maintenance stops it; removal too.
	b, _ := st.GetConnection(ctx, "b")
	if err := st.SetConnectionState(ctx, b.ID, "discovered", "connected"); err != nil {
		t.Fatal(err)
	}
	sup.Poke()
	waitFor(t, 10*time.Second, "b's MeshSync running", func() bool { live, _ := r.state(); _, ok := live["uid-b"]; return ok })
	if err := st.SetConnectionState(ctx, b.ID, "connected", "maintenance"); err != nil {
		t.Fatal(err)
	}
	sup.Poke()
	waitFor(t, 10*time.Second, "b stopped in maintenance", func() bool { live, _ := r.state(); _, ok := live["uid-b"]; return !ok })

	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if live, _ := r.state(); len(live) != 0 {
		t.Errorf("still running after the supervisor stopped: %v", live)
	}
}
