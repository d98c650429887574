package inventory_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/inventory"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

// e2e is the server's MeshSync path against a real cluster: a connection made from a
// kubeconfig, the supervisor running the real meshsync.Run embedded, the inventory
// consuming a real JetStream into a real database.
type e2e struct {
	*world
	conns *connections.Manager
	conn  *store.Connection
	cs    kubernetes.Interface
	ns    string

	stopSup context.CancelFunc
	supDone chan error
}

func newE2E(t *testing.T, kind string) *e2e {
	merged := k8stest.Require(t, 1)
	w := newWorld(t, kind)
	box, _, err := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{world: w, conns: connections.New(w.st, connections.Options{Box: box, Logger: quietLog}), cs: k8stest.Clientset(t, merged, "c1"),
		ns: k8stest.Namespace("inventory-e2e")}
	ctx := context.Background()
	if _, err := e.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.cs.CoreV1().Namespaces().Delete(context.Background(), e.ns, metav1.DeleteOptions{}) })
	res, err := e.conns.Add(ctx, k8stest.Contexts(t, merged, []string{"c1"}, nil), []string{"c1"}, false, "test")
	if err != nil || len(res) != 1 || res[0].Connection == nil || res[0].Connection.State != "connected" {
		t.Fatalf("connecting c1: %+v, %v", res, err)
	}
	if e.conn, err = w.st.GetConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	// Only this test's namespace and kinds: the cluster is shared with other tests.
	scope := fmt.Sprintf(`{"include_kinds":["ConfigMap","Secret","Service"],"include_namespaces":[%q]}`, e.ns)
	if err := w.st.SetConnectionMeshSync(ctx, e.conn.ID, "", scope); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.stopDiscovery)
	return e
}

func (e *e2e) startDiscovery() {
	sup := inventory.NewSupervisor(inventory.SupervisorOptions{Store: e.st, NC: e.brk.NC, RESTConfig: e.conns.RESTConfig, Version: "test", Logger: quietLog})
	ctx, cancel := context.WithCancel(context.Background())
	e.stopSup, e.supDone = cancel, make(chan error, 1)
	go func() { e.supDone <- sup.Run(ctx) }()
}

func (e *e2e) stopDiscovery() {
	if e.stopSup == nil {
		return
	}
	e.stopSup()
	select {
	case <-e.supDone:
	case <-time.After(60 * time.Second):
		e.t.Error("the supervisor did not stop within 60 s")
	}
	e.stopSup = nil
}

// clusterListing is the namespace's objects of the watched kinds, as the API server
// lists them: uid -> kind/name@resourceVersion.
func (e *e2e) clusterListing() map[string]string {
	e.t.Helper()
	ctx, out := context.Background(), map[string]string{}
	cms, err := e.cs.CoreV1().ConfigMaps(e.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range cms.Items {
		out[string(o.UID)] = "ConfigMap/" + o.Name + "@" + o.ResourceVersion
	}
	ss, err := e.cs.CoreV1().Secrets(e.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range ss.Items {
		out[string(o.UID)] = "Secret/" + o.Name + "@" + o.ResourceVersion
	}
	svcs, err := e.cs.CoreV1().Services(e.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range svcs.Items {
		out[string(o.UID)] = "Service/" + o.Name + "@" + o.ResourceVersion
	}
	return out
}

// inventoryListing is the same from the inventory.
func (e *e2e) inventoryListing() map[string]string {
	out := map[string]string{}
	for uid, r := range e.rows(e.conn.ClusterUID) {
		if r.Namespace == e.ns {
			out[uid] = r.Kind + "/" + r.Name + "@" + r.ResourceVersion
		}
	}
	return out
}

// converge waits until the inventory equals the cluster, object by object.
func (e *e2e) converge(what string) {
	e.t.Helper()
	var want, got map[string]string
	end := time.Now().Add(120 * time.Second)
	for {
		want, got = e.clusterListing(), e.inventoryListing()
		if fmt.Sprint(want) == fmt.Sprint(got) {
			return
		}
		if time.Now().After(end) {
			e.t.Fatalf("%s: after 120 s the inventory differs from the cluster:\n%s", what, diff(want, got))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func diff(want, got map[string]string) string {
	var lines []string
	for uid, w := range want {
		if g, ok := got[uid]; !ok {
			lines = append(lines, "missing "+w)
		} else if g != w {
			lines = append(lines, "stale   "+g+" (cluster: "+w+")")
		}
	}
	for uid, g := range got {
		if _, ok := want[uid]; !ok {
			lines = append(lines, "ghost   "+g)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func (e *e2e) configMap(name string, labels map[string]string) {
	e.t.Helper()
	_, err := e.cs.CoreV1().ConfigMaps(e.ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Data: map[string]string{"k": name}}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
}

const secretValue = "s3cr3t-value-never-stored"

// TestEndToEndInventoryEqualsTheCluster: with a real cluster, creates, updates and
// deletes reach the inventory; a Secret's data never does; the synthetic check makes
// its round trip; and after the server was stopped while objects were created,
// changed and deleted, the inventory equals the cluster again, object by object
// (nothing missing, no ghost).
func TestEndToEndInventoryEqualsTheCluster(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			e := newE2E(t, kind)
			ctx := context.Background()
			e.configMap("before-a", map[string]string{"tier": "one"})
			if _, err := e.cs.CoreV1().Secrets(e.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"},
				StringData: map[string]string{"password": secretValue}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.cs.CoreV1().Services(e.ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			e.startDiscovery()
			e.converge("the first snapshot")

			// Create, update, delete.
			e.configMap("live-b", nil)
			cm, err := e.cs.CoreV1().ConfigMaps(e.ns).Get(ctx, "before-a", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cm.Labels["tier"] = "two"
			if _, err := e.cs.CoreV1().ConfigMaps(e.ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := e.cs.CoreV1().Services(e.ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			e.converge("live changes")
			for _, r := range e.rows(e.conn.ClusterUID) {
				if r.Object != nil && (strings.Contains(*r.Object, secretValue) || strings.Contains(*r.Object, base64.StdEncoding.EncodeToString([]byte(secretValue)))) {
					t.Fatalf("%s/%s stored the Secret's value: %s", r.Kind, r.Name, *r.Object)
				}
			}

			chk := e.inv.Check(ctx, e.conn.ClusterUID, e.cs, e.ns, 60*time.Second)
			if !chk.OK || chk.RoundTripMs <= 0 {
				t.Fatalf("synthetic check: %+v", chk)
			}
			t.Logf("synthetic check: arrived in %.0f ms, removal seen in %.0f ms", chk.ArriveMs, chk.RemoveMs)

			// A resync on request reaches the real MeshSync: a new snapshot completes.
			before, err := e.inv.Health(ctx, e.conn.ClusterUID)
			if err != nil || before.LastSnapshotAt == nil {
				t.Fatalf("health: %+v, %v", before, err)
			}
			if err := e.inv.Resync(e.conn.ClusterUID, "test"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 60*time.Second, "a snapshot after the resync request", func() bool {
				h, err := e.inv.Health(ctx, e.conn.ClusterUID)
				return err == nil && h.LastSnapshotAt != nil && h.LastSnapshotAt.After(*before.LastSnapshotAt)
			})
			e.converge("after the resync")

			// The server goes down (discovery and consumer); the cluster moves on.
			e.stopDiscovery()
			e.halt()
			e.configMap("while-down-c", nil)
			cm, _ = e.cs.CoreV1().ConfigMaps(e.ns).Get(ctx, "live-b", metav1.GetOptions{})
			cm.Data["k"] = "changed while down"
			if _, err := e.cs.CoreV1().ConfigMaps(e.ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, del := range []func() error{
				func() error { return e.cs.CoreV1().ConfigMaps(e.ns).Delete(ctx, "before-a", metav1.DeleteOptions{}) },
				func() error { return e.cs.CoreV1().Secrets(e.ns).Delete(ctx, "db", metav1.DeleteOptions{}) },
			} {
				if err := del(); err != nil {
					t.Fatal(err)
				}
			}
			e.start()
			e.startDiscovery()
			e.converge("after the restart")
			h, err := e.inv.Health(ctx, e.conn.ClusterUID)
			if err != nil || h.LastSnapshotAt == nil || h.State == "silent" {
				t.Errorf("health after the restart: %+v, %v", h, err)
			}
		})
	}
}

// TestEndToEndTwoClustersStayApart: two real clusters discovered at once keep their
// own rows (the same namespace and name in both); flushing one leaves the other
// whole, and the flushed one is rediscovered.
func TestEndToEndTwoClustersStayApart(t *testing.T) {
	merged := k8stest.Require(t, 2)
	w := newWorld(t, "postgres")
	box, _, err := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	conns := connections.New(w.st, connections.Options{Box: box, Logger: quietLog})
	ctx, ns := context.Background(), k8stest.Namespace("inventory-two")
	if res, err := conns.Add(ctx, k8stest.Contexts(t, merged, []string{"c1", "c2"}, nil), nil, false, "test"); err != nil || len(res) != 2 {
		t.Fatalf("connecting: %+v, %v", res, err)
	}
	uids := map[string]string{}
	for _, name := range []string{"c1", "c2"} {
		cs := k8stest.Clientset(t, merged, name)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
		cm, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "same"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := w.st.GetConnection(ctx, name)
		uids[name] = c.ClusterUID + "/" + string(cm.UID)
		if err := w.st.SetConnectionMeshSync(ctx, c.ID, "", fmt.Sprintf(`{"include_kinds":["ConfigMap"],"include_namespaces":[%q]}`, ns)); err != nil {
			t.Fatal(err)
		}
	}
	sup := inventory.NewSupervisor(inventory.SupervisorOptions{Store: w.st, NC: w.brk.NC, RESTConfig: conns.RESTConfig, Logger: quietLog})
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sup.Run(sctx) }()
	t.Cleanup(func() { stop(); <-done })
	has := func(ref string) bool {
		cluster, uid, _ := strings.Cut(ref, "/")
		r, ok := w.rows(cluster)[uid]
		return ok && r.Name == "same" && r.Namespace == ns
	}
	waitFor(t, 120*time.Second, "both clusters' ConfigMaps in the inventory", func() bool { return has(uids["c1"]) && has(uids["c2"]) })
	c1, _, _ := strings.Cut(uids["c1"], "/")
	c2, _, _ := strings.Cut(uids["c2"], "/")
	before := len(w.rows(c2))
	if f, err := w.inv.Flush(ctx, c1); err != nil || f.Objects < 1 {
		t.Fatalf("flush: %+v, %v", f, err)
	}
	if n := len(w.rows(c2)); n != before || !has(uids["c2"]) {
		t.Fatalf("flushing c1 touched c2: %d rows, was %d", n, before)
	}
	waitFor(t, 120*time.Second, "c1 rediscovered after its flush", func() bool { return has(uids["c1"]) })
}
