package meshsync

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/internal/natstest"
)

// In operator mode MeshSync connects with only bus.MeshSyncPermissions: publish its
// own cluster's events, hear its control subject, get replies on its own inbox. That
// is enough for a snapshot to be stored, and for a resync to be heard.
func TestOperatorModeNeedsOnlyItsOwnPermissions(t *testing.T) {
	merged := k8stest.Require(t, 1)
	const cluster = "operator-test"
	perms, err := bus.MeshSyncPermissions(cluster)
	if err != nil {
		t.Fatal(err)
	}
	ns := natstest.Start(t, server.Options{JetStream: true, Users: []*server.User{
		{Username: "server", Password: "s"},
		{Username: "meshsync", Password: "m", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Allow: perms.Publish}, Subscribe: &server.SubjectPermission{Allow: perms.Subscribe}}},
	}})
	admin, err := nats.Connect(ns.ClientURL(), nats.UserInfo("server", "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	js, _ := jetstream.New(admin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, bus.MeshSyncStreamConfig()); err != nil {
		t.Fatal(err)
	}
	subject, _ := bus.MeshSyncEvents(cluster)
	ends := make(chan *bus.MeshSyncEvent, 4)
	sub, err := admin.Subscribe(subject, func(m *nats.Msg) {
		if e, err := bus.DecodeMeshSync(m.Data); err == nil && e.MeshSyncEvent.Type == bus.EventSnapshotEnd {
			ends <- e.MeshSyncEvent
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	nc, err := ConnectNATS("nats://meshsync:m@"+ns.Addr().String(), cluster, NATSAuth{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var violations []error
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations = append(violations, err) })
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Options{Cluster: cluster, Config: k8stest.RESTConfig(t, merged, "c1"), NC: nc, Mode: ModeOperator,
			Scope: Scope{IncludeNamespaces: []string{"default"}, IncludeKinds: []string{"ConfigMap"}}, Logger: testLogger(t)})
	}()
	defer func() { stop(); <-done }()
	waitEnd := func(what string) *bus.MeshSyncEvent {
		select {
		case e := <-ends:
			return e
		case err := <-done:
			t.Fatalf("Run ended: %v", err)
		case <-ctx.Done():
			t.Fatalf("no %s within 2 minutes", what)
		}
		return nil
	}
	waitEnd("start snapshot")
	ctl, _ := bus.MeshSyncControl(cluster)
	msg, _ := bus.Encode(&bus.Envelope{Kind: bus.KindMeshSyncControl, Sender: "server", Seq: 1,
		MeshSyncControl: &bus.MeshSyncControlMsg{Type: bus.ControlResync, Reason: "gap"}})
	if err := admin.Publish(ctl, msg); err != nil {
		t.Fatal(err)
	}
	if e := waitEnd("resync snapshot"); e.Reason != "resync: gap" {
		t.Errorf("resync snapshot's reason %q", e.Reason)
	}
	info, err := js.Stream(ctx, bus.MeshSyncStream)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := info.Info(ctx); st.State.Msgs < 4 {
		t.Errorf("the stream holds %d messages; two snapshots were published", st.State.Msgs)
	}
	if len(violations) > 0 {
		t.Errorf("MeshSync went beyond its permissions: %v", violations)
	}
}
