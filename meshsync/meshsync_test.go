package meshsync

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/internal/k8stest"
)

const waitLong = 90 * time.Second

func TestObjectChangesPropagateInOrderAndSecretsNeverTravel(t *testing.T) {
	ctx := context.Background()
	cs := k8stest.Clientset(t, k8stest.Require(t, 1), "c1")
	ns := createNamespace(t, cs, "msevents")
	other := createNamespace(t, cs, "msevents-out")
	h := startMeshSync(t, Scope{IncludeNamespaces: []string{ns}})
	evs := h.waitFor("the start snapshot", waitLong, func(evs []received) bool { return len(snapshotEnds(evs, "configmaps.v1.")) > 0 })
	end := snapshotEnds(evs, "configmaps.v1.")[0]
	listed := 0
	for _, r := range evs {
		if r.ev().Snapshot == end.Snapshot && r.ev().Type == bus.EventAdded {
			listed++
		}
	}
	if end.Count != listed || listed == 0 {
		t.Errorf("start snapshot: end marker counts %d, %d objects were sent in it", end.Count, listed)
	}

	cms := cs.CoreV1().ConfigMaps(ns)
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"k": "v1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["k"] = "v2"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	const secretValue = "hunter2-do-not-ship-me"
	encoded := base64.StdEncoding.EncodeToString([]byte(secretValue))
	_, err = cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: map[string]string{
			lastApplied: `{"apiVersion":"v1","kind":"Secret","data":{"password":"` + encoded + `"}}`, "team": "a"}},
		Data: map[string][]byte{"password": []byte(secretValue)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(other).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "out-of-scope"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.test/app:1.2.3",
			Env: []corev1.EnvVar{{Name: "NOT_SHIPPED", Value: "env-value-x"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs = h.waitFor("the config map's deletion, the secret and the pod", waitLong, func(evs []received) bool {
		d := objectEvents(evs, ns, "c")
		return len(d) > 0 && d[len(d)-1].ev().Type == bus.EventDeleted &&
			len(objectEvents(evs, ns, "s")) > 0 && len(objectEvents(evs, ns, "p")) > 0
	})

	var types []string
	for _, r := range objectEvents(evs, ns, "c") {
		types = append(types, r.ev().Type)
	}
	if strings.Join(types, ",") != "added,modified,deleted" {
		t.Errorf("config map c's events: %v, want added, modified, deleted", types)
	}
	sec := objectEvents(evs, ns, "s")[0].ev().Object
	if sec.Object != nil || sec.Annotations["team"] != "a" || sec.Annotations[lastApplied] != "" {
		t.Errorf("secret event: object %s, annotations %v (want metadata only, last-applied dropped)", sec.Object, sec.Annotations)
	}
	pod := objectEvents(evs, ns, "p")[0].ev().Object
	if !bytes.Contains(pod.Object, []byte("example.test/app:1.2.3")) || bytes.Contains(pod.Object, []byte("env-value-x")) {
		t.Errorf("pod event's object is not the slim pod: %s", pod.Object)
	}
	for _, r := range evs {
		for _, banned := range []string{secretValue, encoded, "managedFields", lastApplied} {
			if bytes.Contains(r.raw, []byte(banned)) {
				t.Errorf("event %d carries %q: %s", r.env.Seq, banned, r.raw)
			}
		}
		if o := r.ev().Object; o != nil && o.Namespace == other {
			t.Errorf("event %d is of excluded namespace %s: %s", r.env.Seq, other, o.Name)
		}
	}
}

func TestResyncOnControlSnapshotsWithTheRightCount(t *testing.T) {
	ctx := context.Background()
	cs := k8stest.Clientset(t, k8stest.Require(t, 1), "c1")
	ns := createNamespace(t, cs, "msresync")
	h := startMeshSync(t, Scope{IncludeNamespaces: []string{ns}, IncludeKinds: []string{"ConfigMap", "namespaces"}})
	h.waitFor("the start snapshot", waitLong, func(evs []received) bool { return len(snapshotEnds(evs, "")) > 0 })
	for _, n := range []string{"a", "b", "c"} {
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("the config maps' events", waitLong, func(evs []received) bool { return len(objectEvents(evs, ns, "c")) > 0 })
	want, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}

	ctl, _ := bus.MeshSyncControl(h.cluster)
	_ = h.nc.Publish(ctl, []byte(`{"not":"a control message"}`)) // ignored, logged
	for _, resources := range [][]string{{"configmaps.v1."}, nil} {
		msg, _ := bus.Encode(&bus.Envelope{Kind: bus.KindMeshSyncControl, Sender: "server", Seq: 1,
			MeshSyncControl: &bus.MeshSyncControlMsg{Type: bus.ControlResync, Reason: "test", Resources: resources}})
		before := len(snapshotEnds(h.waitFor("", time.Second, func([]received) bool { return true }), ""))
		if err := h.nc.Publish(ctl, msg); err != nil {
			t.Fatal(err)
		}
		evs := h.waitFor("the resync's end marker", waitLong, func(evs []received) bool { return len(snapshotEnds(evs, "")) > before })
		end := snapshotEnds(evs, "")[before]
		wantResources := []string{"configmaps.v1."}
		if resources == nil {
			wantResources = []string{"configmaps.v1.", "namespaces.v1."}
		}
		if strings.Join(end.Resources, ",") != strings.Join(wantResources, ",") {
			t.Errorf("resync %v covered %v, want %v", resources, end.Resources, wantResources)
		}
		started, listed := false, map[string]int{}
		for _, r := range evs {
			if e := r.ev(); e.Snapshot == end.Snapshot {
				started = started || e.Type == bus.EventSnapshotStart
				if e.Type == bus.EventAdded {
					listed[e.Object.Resource]++
				}
			}
		}
		total := listed["configmaps"] + listed["namespaces"]
		if !started || end.Count != total || listed["configmaps"] != len(want.Items) {
			t.Errorf("resync %v: start marker %v, end count %d, objects sent %v, config maps in the cluster %d",
				resources, started, end.Count, listed, len(want.Items))
		}
		if resources == nil && listed["namespaces"] != 1 {
			t.Errorf("full resync listed %d namespaces; the scope includes one", listed["namespaces"])
		}
	}
}

func TestALostWatchIsRelistedAsASnapshot(t *testing.T) {
	ctx := context.Background()
	cs := k8stest.Clientset(t, k8stest.Require(t, 1), "c1")
	ns := createNamespace(t, cs, "msrelist")
	for _, n := range []string{"one", "two"} {
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h := startMeshSync(t, Scope{IncludeNamespaces: []string{ns}, IncludeKinds: []string{"ConfigMap", "Secret"}})
	evs := h.waitFor("the start snapshot", waitLong, func(evs []received) bool { return len(snapshotEnds(evs, "")) > 0 })
	before := len(snapshotEnds(evs, ""))
	path := "/api/v1/namespaces/" + ns + "/configmaps"
	listed := h.listings(path)

	h.loseWatch(path)
	evs = h.waitFor("a relist snapshot of config maps", waitLong, func(evs []received) bool {
		return len(snapshotEnds(evs, "configmaps.v1.")) > 1
	})
	want, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ends := snapshotEnds(evs, "")[before:]
	if len(ends) != 1 || ends[0].Reason != "relist" || strings.Join(ends[0].Resources, ",") != "configmaps.v1." || ends[0].Count != len(want.Items) {
		e := ends[0]
		t.Errorf("after a lost watch: %d snapshots, the first of %v (%s) with %d objects; want one relist of config maps with %d",
			len(ends), e.Resources, e.Reason, e.Count, len(want.Items))
	}
	if h.listings(path) != listed+1 {
		t.Errorf("config maps listed %d times after the lost watch, want once", h.listings(path)-listed)
	}
	if h.listings("/api/v1/namespaces/"+ns+"/secrets") != 1 {
		t.Errorf("secrets were listed again though their watch was never lost")
	}
}
