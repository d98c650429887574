package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/broker"
	"github.com/meshperf/meshperf/server/inventory"
	"github.com/meshperf/meshperf/server/store"
)

// invHarness is the API with a real inventory consuming a real JetStream.
type invHarness struct {
	*harness
	brk  *broker.Broker
	boot string
	seq  uint64
}

func newInvHarness(t *testing.T, kind string) *invHarness {
	brk, err := broker.Start(context.Background(), broker.Config{Addr: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(brk.Close)
	h := newHarness(t, kind, api.Options{}, func(st *store.Store, opt *api.Options) {
		inv := inventory.New(inventory.Options{Store: st, NC: brk.NC, JS: brk.JS, BatchWait: 20 * time.Millisecond, Logger: quiet})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = inv.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		opt.Inventory = inv
	})
	return &invHarness{harness: h, brk: brk, boot: bus.NewBoot()}
}

func (h *invHarness) publish(cluster string, ev *bus.MeshSyncEvent) {
	h.t.Helper()
	h.seq++
	ev.Cluster = cluster
	data, _ := bus.Encode(&bus.Envelope{Kind: bus.KindMeshSyncEvent, Sender: cluster, Boot: h.boot, Seq: h.seq, Sent: time.Now(), MeshSyncEvent: ev})
	subject, _ := bus.MeshSyncEvents(cluster)
	if _, err := h.brk.JS.Publish(context.Background(), subject, data); err != nil {
		h.t.Fatal(err)
	}
}

func (h *invHarness) waitApplied(cluster string) {
	h.t.Helper()
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := h.st.InventoryStreamOf(context.Background(), cluster)
		if err == nil && st != nil && st.Seq >= int64(h.seq) {
			return
		}
		if time.Now().After(end) {
			h.t.Fatalf("events up to %d not applied within 30 s", h.seq)
		}
	}
}

func invPod(name, uid string, labels map[string]string) *bus.MeshSyncObject {
	obj, _ := json.Marshal(map[string]any{"kind": "Pod", "metadata": map[string]any{"name": name, "namespace": "shop", "uid": uid}})
	return &bus.MeshSyncObject{Version: "v1", Resource: "pods", Kind: "Pod", Namespace: "shop", Name: name, UID: uid,
		ResourceVersion: "1", Labels: labels, Object: obj}
}

// The inventory through the API: filters and their bad values named, paging, counts,
// one object, roles on flush and resync, discovery settings and health, and live
// changes as server-sent events.
func TestInventoryAPI(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newInvHarness(t, kind)
		for _, c := range []struct{ name, uid string }{{"c1", "uid-c1"}, {"c2", "uid-c2"}} {
			if _, _, err := h.st.AddConnection(context.Background(), &store.Connection{ID: uuid.NewString(), Kind: store.ConnKubernetes,
				Name: c.name, State: "connected", ClusterUID: c.uid}, nil, func(string) []byte { return []byte("x") }); err != nil {
				t.Fatal(err)
			}
		}
		h.publish("uid-c1", &bus.MeshSyncEvent{Type: bus.EventSnapshotStart, Snapshot: "s", Resources: []string{"pods.v1."}})
		for i := range 5 {
			labels := map[string]string{"app": "web"}
			if i == 4 {
				labels = map[string]string{"app": "db", "app.kubernetes.io/managed-by": "meshperf"}
			}
			h.publish("uid-c1", &bus.MeshSyncEvent{Type: bus.EventAdded, Snapshot: "s", Object: invPod(fmt.Sprintf("p%d", i), fmt.Sprintf("u%d", i), labels)})
		}
		h.publish("uid-c1", &bus.MeshSyncEvent{Type: bus.EventSnapshotEnd, Snapshot: "s", Resources: []string{"pods.v1."}})
		h.waitApplied("uid-c1")

		list := func(query string) (int, apitypes.InventoryPage, []byte) {
			code, body := h.do("GET", "/api/v1/inventory?"+query, h.viewer, nil)
			var p apitypes.InventoryPage
			_ = json.Unmarshal(body, &p)
			return code, p, body
		}
		if code, p, body := list("cluster=c1&selector=" + url.QueryEscape("app in (web),app!=db")); code != 200 || len(p.Items) != 4 {
			t.Fatalf("selector: %d %s", code, body)
		}
		if code, p, body := list("cluster=c1&managed=true"); code != 200 || len(p.Items) != 1 || p.Items[0].Name != "p4" || p.Items[0].Object != nil {
			t.Fatalf("managed: %d %s", code, body)
		}
		if code, p, _ := list("cluster=c2"); code != 200 || len(p.Items) != 0 {
			t.Fatalf("c2: %d %d items", code, len(p.Items))
		}
		// Paging: two at a time, every object once.
		seen, cursor := map[string]bool{}, ""
		for pages := 0; ; pages++ {
			code, p, body := list("limit=2&cursor=" + cursor)
			if code != 200 || pages > 5 {
				t.Fatalf("page %d: %d %s", pages, code, body)
			}
			for _, o := range p.Items {
				seen[o.UID] = true
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if len(seen) != 5 {
			t.Errorf("paging saw %d objects", len(seen))
		}
		for q, field := range map[string]string{"selector=app+in+(": "selector", "managed=maybe": "managed", "limit=0": "limit",
			"cluster=nope": "cluster", "cursor=xyz": "cursor", "selector=a>1": "selector"} {
			code, body := h.do("GET", "/api/v1/inventory?"+q, h.viewer, nil)
			if code != 400 || len(errorOf(t, body).Fields) == 0 || errorOf(t, body).Fields[0].Path != field {
				t.Errorf("%s: %d %s", q, code, body)
			}
		}
		code, body := h.do("GET", "/api/v1/inventory/stats", h.viewer, nil)
		var stats inventory.Stats
		if json.Unmarshal(body, &stats); code != 200 || stats.Events != 7 || stats.Batches == 0 {
			t.Errorf("stats: %d %s", code, body)
		}
		code, body = h.do("GET", "/api/v1/inventory/counts", h.viewer, nil)
		if code != 200 || !strings.Contains(string(body), `"count": 5`) || !strings.Contains(string(body), `"cluster": "c1"`) {
			t.Errorf("counts: %d %s", code, body)
		}
		code, body = h.do("GET", "/api/v1/clusters/c1/inventory/u0", h.viewer, nil)
		var one apitypes.InventoryObject
		var meta struct{ Metadata struct{ UID string } }
		if json.Unmarshal(body, &one); code != 200 || one.Name != "p0" || json.Unmarshal(one.Object, &meta) != nil || meta.Metadata.UID != "u0" {
			t.Errorf("one object: %d %s", code, body)
		}
		if code, _ := h.do("GET", "/api/v1/clusters/c2/inventory/u0", h.viewer, nil); code != 404 {
			t.Errorf("c1's object through c2: %d", code)
		}
		code, body = h.do("GET", "/api/v1/clusters/c1/discovery", h.viewer, nil)
		var health apitypes.DiscoveryHealth
		if json.Unmarshal(body, &health); code != 200 || health.Objects != 5 || health.State != "reporting" || health.Mode != "embedded" || health.LastSnapshotAt == nil {
			t.Errorf("health: %d %s", code, body)
		}

		// Settings: admin only, bad mode named.
		if code, _ := h.do("PUT", "/api/v1/clusters/c1/discovery/settings", h.editor, map[string]any{"mode": "operator"}); code != 403 {
			t.Errorf("an editor set discovery settings: %d", code)
		}
		if code, body := h.do("PUT", "/api/v1/clusters/c1/discovery/settings", h.admin, map[string]any{"mode": "sideways"}); code != 400 || errorOf(t, body).Fields[0].Path != "mode" {
			t.Errorf("bad mode: %d %s", code, body)
		}
		if code, body := h.do("PUT", "/api/v1/clusters/c1/discovery/settings", h.admin, map[string]any{"mode": "operator",
			"scope": map[string]any{"exclude_namespaces": []string{"kube-system"}}}); code != 200 {
			t.Errorf("settings: %d %s", code, body)
		}
		code, body = h.do("GET", "/api/v1/clusters/c1/discovery/settings", h.viewer, nil)
		if code != 200 || !strings.Contains(string(body), `"operator"`) || !strings.Contains(string(body), "kube-system") {
			t.Errorf("settings read back: %d %s", code, body)
		}

		// Live changes.
		events := h.stream(t, "/api/v1/inventory/events?cluster=c1")
		h.publish("uid-c1", &bus.MeshSyncEvent{Type: bus.EventAdded, Object: invPod("late", "u9", nil)})
		if got := events.next(t, 20*time.Second); !strings.Contains(got, `"name":"late"`) || !strings.Contains(got, `"type":"added"`) {
			t.Errorf("live change: %s", got)
		}

		if code, _ := h.do("POST", "/api/v1/clusters/c1/discovery/check", h.viewer, nil); code != 403 {
			t.Errorf("a viewer ran the synthetic check: %d", code)
		}
		if code, body := h.do("POST", "/api/v1/clusters/c1/discovery/check", h.editor, map[string]any{"timeout_seconds": 500}); code != 400 || errorOf(t, body).Fields[0].Path != "timeout_seconds" {
			t.Errorf("check with a bad timeout: %d %s", code, body)
		}
		if code, _ := h.do("POST", "/api/v1/clusters/nope/discovery/check", h.editor, nil); code != 404 {
			t.Errorf("check of no cluster: %d", code)
		}
		if code, _ := h.do("POST", "/api/v1/clusters/c1/discovery/resync", h.viewer, nil); code != 403 {
			t.Errorf("a viewer asked for a resync: %d", code)
		}
		if code, body := h.do("POST", "/api/v1/clusters/c1/discovery/resync", h.editor, nil); code != 202 {
			t.Errorf("resync: %d %s", code, body)
		}
		if code, _ := h.do("POST", "/api/v1/clusters/c1/inventory/flush", h.editor, nil); code != 403 {
			t.Errorf("an editor flushed: %d", code)
		}
		code, body = h.do("POST", "/api/v1/clusters/c1/inventory/flush", h.admin, nil)
		if code != 200 || !strings.Contains(string(body), `"objects": 6`) {
			t.Errorf("flush: %d %s", code, body)
		}
		if got := events.next(t, 20*time.Second); !strings.Contains(got, `"type":"flushed"`) {
			t.Errorf("flush on the stream: %s", got)
		}
	})
}

type sseReader struct{ lines chan string }

// stream opens a server-sent event stream; next returns the next event's data.
func (h *invHarness) stream(t *testing.T, path string) *sseReader {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", h.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+h.viewer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	r := &sseReader{lines: make(chan string, 100)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				r.lines <- d
			}
		}
	}()
	return r
}

func (r *sseReader) next(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case l := <-r.lines:
		return l
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
		return ""
	}
}
