package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/internal/natstest"
)

func TestMeshSyncCommandRefusesBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"meshsync"}, "give --nats-url"},
		{[]string{"meshsync", "--nats-url", "nats://127.0.0.1:1", "--exclude-namespaces", "a=b"}, "scope.exclude_namespaces[0]"},
		{[]string{"meshsync", "--nats-url", "nats://127.0.0.1:1", "--kubeconfig", "/nonexistent/kubeconfig"}, "kubeconfig"},
	} {
		r := meshperf(t, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("meshperf %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
}

// The operator-mode process against a real cluster and a real JetStream: its start
// snapshot arrives on the cluster's subject.
func TestMeshSyncCommandPublishesASnapshot(t *testing.T) {
	k8stest.Require(t, 1)
	ns, nc, js := natstest.JetStream(t, server.Options{})
	if _, err := js.CreateStream(context.Background(), bus.MeshSyncStreamConfig()); err != nil {
		t.Fatal(err)
	}
	subject, _ := bus.MeshSyncEvents("cmdtest")
	ends := make(chan *bus.MeshSyncEvent, 1)
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		if e, err := bus.DecodeMeshSync(m.Data); err == nil && e.MeshSyncEvent.Type == bus.EventSnapshotEnd {
			select {
			case ends <- e.MeshSyncEvent:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	cmd := exec.Command(bin, "meshsync", "--kubeconfig", filepath.Join(k8stest.Dir(), "kubeconfig"), "--context", "c1",
		"--nats-url", ns.ClientURL(), "--cluster", "cmdtest", "--include-namespaces", "default", "--include-kinds", "ConfigMap,Namespace")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	select {
	case e := <-ends:
		if strings.Join(e.Resources, ",") != "configmaps.v1.,namespaces.v1." || e.Count < 2 {
			t.Errorf("start snapshot of %v with %d objects; want config maps and namespaces, default and its kube-root-ca.crt", e.Resources, e.Count)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("no snapshot within 90 s; the process said:\n%s", stderr.String())
	}
}
