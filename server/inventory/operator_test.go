package inventory_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/meshsync"
	"github.com/meshperf/meshperf/server/inventory"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

// installer records installs and removals. It stands in for server/operatordeploy
// (tested against a real API server there and end to end in cmd/meshperf): what is
// under test is when the supervisor calls it.
type installer struct {
	mu       sync.Mutex
	calls    []string
	failNext bool
}

func (i *installer) Key(c *store.Connection) string { return c.ClusterUID + "|" + c.MeshSyncScope }
func (i *installer) record(what string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.calls = append(i.calls, what)
	if i.failNext {
		i.failNext = false
		return errors.New("the API server is away")
	}
	return nil
}
func (i *installer) Install(_ context.Context, c *store.Connection) error {
	return i.record("install " + c.Name + " " + c.MeshSyncScope)
}
func (i *installer) Remove(_ context.Context, c *store.Connection) error {
	return i.record("remove " + c.Name)
}
func (i *installer) Status(context.Context, *store.Connection) *apitypes.OperatorStatus {
	return &apitypes.OperatorStatus{Namespace: "meshperf-system"}
}
func (i *installer) got() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]string(nil), i.calls...)
}

// The supervisor installs the operator when a connection switches to operator mode
// (again when its scope changes, and after a failure), removes it when it switches
// back, makes sure none is left in embedded connections once per start, and never
// touches a disconnected cluster.
func TestSupervisorInstallsAndRemovesTheOperator(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	r := &runs{live: map[string]meshsync.Options{}, started: map[string]int{}, fail: map[string]bool{}}
	inst := &installer{}
	sup := inventory.NewSupervisor(inventory.SupervisorOptions{Store: st, Every: time.Hour, Run: r.run, Operator: inst,
		RESTConfig: func(c *store.Connection) (*rest.Config, error) { return &rest.Config{Host: "https://" + c.Name}, nil }})
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	a, _, err := st.AddConnection(ctx, &store.Connection{ID: uuid.NewString(), Kind: store.ConnKubernetes, Name: "a", State: "connected", ClusterUID: "uid-a"},
		nil, func(string) []byte { return []byte("sealed") })
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AddConnection(ctx, &store.Connection{ID: uuid.NewString(), Kind: store.ConnKubernetes, Name: "down", State: "disconnected", ClusterUID: "uid-d"},
		nil, func(string) []byte { return []byte("sealed") }); err != nil {
		t.Fatal(err)
	}
	go func() { done <- sup.Run(sctx) }()
	expect := func(what string, want ...string) {
		t.Helper()
		waitFor(t, 10*time.Second, what, func() bool {
			got := inst.got()
			if len(got) < len(want) {
				return false
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s: calls %q, want %q", what, got, want)
				}
			}
			return true
		})
	}
	expect("a removal checked at start", "remove a")
	status := func() string { return sup.OperatorStatus(ctx, a).Install }
	if s := status(); s != "removed" {
		t.Errorf("install state %q", s)
	}

	inst.failNext = true
	if err := st.SetConnectionMeshSync(ctx, a.ID, meshsync.ModeOperator, ""); err != nil {
		t.Fatal(err)
	}
	sup.Poke()
	expect("installed (failed first)", "remove a", "install a ")
	waitFor(t, 10*time.Second, "the failure reported", func() bool { return status() == "failed: the API server is away" })
	sup.Poke()
	expect("installed again", "remove a", "install a ", "install a ")
	waitFor(t, 10*time.Second, "installed", func() bool { return status() == "installed" })
	waitFor(t, 10*time.Second, "a's embedded MeshSync stopped", func() bool { live, _ := r.state(); _, ok := live["uid-a"]; return !ok })
	sup.Poke()
	sup.Poke()
	time.Sleep(200 * time.Millisecond)
	if got := inst.got(); len(got) != 3 {
		t.Errorf("re-installed with nothing changed: %q", got)
	}
	if err := st.SetConnectionMeshSync(ctx, a.ID, meshsync.ModeOperator, `{"include_namespaces":["apps"]}`); err != nil {
		t.Fatal(err)
	}
	sup.Poke()
	expect("a new scope re-applied", "remove a", "install a ", "install a ", `install a {"include_namespaces":["apps"]}`)

	if err := st.SetConnectionMeshSync(ctx, a.ID, meshsync.ModeEmbedded, ""); err != nil {
		t.Fatal(err)
	}
	sup.Poke()
	expect("removed on the way back", "remove a", "install a ", "install a ", `install a {"include_namespaces":["apps"]}`, "remove a")
	waitFor(t, 10*time.Second, "a's embedded MeshSync back", func() bool { live, _ := r.state(); _, ok := live["uid-a"]; return ok })
	for _, c := range inst.got() {
		if c == "remove down" || c == "install down " {
			t.Errorf("touched a disconnected cluster: %s", c)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
