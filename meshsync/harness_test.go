package meshsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/internal/natstest"
)

// received is one event as the stream holds it, raw bytes included (tests scan them).
type received struct {
	env *bus.Envelope
	raw []byte
}

func (r received) ev() *bus.MeshSyncEvent { return r.env.MeshSyncEvent }

// harness runs one MeshSync against test cluster c1, publishing into an in-process
// NATS JetStream of its own, and reads its stream back.
type harness struct {
	t       *testing.T
	nc      *nats.Conn
	cluster string
	cfg     *rest.Config
	cs      kubernetes.Interface

	mu       sync.Mutex
	lists    map[string]int // initial listings this MeshSync asked for, by path
	requests map[string]int // every request, by path
	watches  map[string][]io.Closer
	expire   map[string]bool
	events   []received
	bad      []string
	changed  chan struct{}
}

func startNATS(t *testing.T) *nats.Conn {
	t.Helper()
	_, nc, js := natstest.JetStream(t, server.Options{MaxPayload: 1 << 20})
	if _, err := js.CreateStream(context.Background(), bus.MeshSyncStreamConfig()); err != nil {
		t.Fatal(err)
	}
	return nc
}

func startMeshSync(t *testing.T, scope Scope) *harness {
	t.Helper()
	merged := k8stest.Require(t, 1)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	h := &harness{t: t, nc: startNATS(t), cluster: "test-" + hex.EncodeToString(b), cfg: k8stest.RESTConfig(t, merged, "c1"),
		cs: k8stest.Clientset(t, merged, "c1"), changed: make(chan struct{})}
	// Count the listings MeshSync asks for (LIST, or a watch that sends initial events):
	// a restarted watch or a relist shows here.
	h.lists, h.requests, h.watches, h.expire = map[string]int{}, map[string]int{}, map[string][]io.Closer{}, map[string]bool{}
	h.cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			q := req.URL.Query()
			path := req.URL.Path
			resuming := q.Get("watch") == "true" && q.Get("sendInitialEvents") != "true"
			h.mu.Lock()
			h.requests[path]++
			if req.Method == http.MethodGet && !resuming {
				h.lists[path]++
			}
			expired := resuming && h.expire[path]
			delete(h.expire, path)
			h.mu.Unlock()
			if expired {
				// What an API server answers a watch from a compacted resource version.
				return &http.Response{StatusCode: http.StatusGone, Request: req,
					Header: http.Header{"Content-Type": []string{"application/json"}},
					Body: io.NopCloser(strings.NewReader(`{"kind":"Status","apiVersion":"v1","status":"Failure",` +
						`"message":"too old resource version","reason":"Expired","code":410}`))}, nil
			}
			resp, err := rt.RoundTrip(req)
			if err == nil && q.Get("watch") == "true" {
				h.mu.Lock()
				h.watches[path] = append(h.watches[path], resp.Body)
				h.mu.Unlock()
			}
			return resp, err
		})
	}
	subject, _ := bus.MeshSyncEvents(h.cluster)
	js, _ := jetstream.New(h.nc)
	ctx, cancel := context.WithCancel(context.Background())
	cons, err := js.OrderedConsumer(ctx, bus.MeshSyncStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		e, err := bus.DecodeMeshSync(m.Data())
		h.mu.Lock()
		if err != nil {
			h.bad = append(h.bad, err.Error())
		} else {
			h.events = append(h.events, received{env: e, raw: append([]byte(nil), m.Data()...)})
		}
		close(h.changed)
		h.changed = make(chan struct{})
		h.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Cluster: h.cluster, Config: h.cfg, NC: h.nc, Scope: scope, Mode: ModeEmbedded, Version: "test", Logger: testLogger(t)})
	}()
	t.Cleanup(func() {
		cancel()
		cc.Stop()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30 s of its context ending")
		}
		h.checkSequence()
	})
	return h
}

// waitFor waits (bounded) until cond holds over the events received so far.
func (h *harness) waitFor(what string, timeout time.Duration, cond func([]received) bool) []received {
	h.t.Helper()
	deadline := time.After(timeout)
	for {
		h.mu.Lock()
		evs, ch := append([]received(nil), h.events...), h.changed
		h.mu.Unlock()
		if cond(evs) {
			return evs
		}
		select {
		case <-ch:
		case <-deadline:
			h.t.Fatalf("waited %s for %s; %d events: %s", timeout, what, len(evs), summary(evs))
		}
	}
}

// snapshotEnds are the end markers received whose resources include key ("" any).
func snapshotEnds(evs []received, key string) []*bus.MeshSyncEvent {
	var out []*bus.MeshSyncEvent
	for _, r := range evs {
		if e := r.ev(); e.Type == bus.EventSnapshotEnd && (key == "" || contains(e.Resources, key)) {
			out = append(out, e)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// objectEvents are the events of the object called name (in namespace ns).
func objectEvents(evs []received, ns, name string) []received {
	var out []received
	for _, r := range evs {
		if o := r.ev().Object; o != nil && o.Namespace == ns && o.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// checkSequence: every event of the one boot, numbered from 1 without a hole, and
// nothing undecodable on the stream.
func (h *harness) checkSequence() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		h.t.Errorf("undecodable messages on the stream: %v", h.bad)
	}
	for i, r := range h.events {
		if r.env.Seq != uint64(i+1) || r.env.Boot != h.events[0].env.Boot || r.env.Sender != h.cluster {
			h.t.Errorf("event %d: seq %d boot %s sender %s (want seq %d, one boot, sender %s)", i, r.env.Seq, r.env.Boot, r.env.Sender, i+1, h.cluster)
			return
		}
	}
}

func summary(evs []received) string {
	var b strings.Builder
	for i, r := range evs {
		if i >= 40 {
			fmt.Fprintf(&b, " ... (%d more)", len(evs)-i)
			break
		}
		e := r.ev()
		fmt.Fprintf(&b, "\n  %d %s", r.env.Seq, e.Type)
		if e.Object != nil {
			fmt.Fprintf(&b, " %s %s/%s", e.Object.Resource, e.Object.Namespace, e.Object.Name)
		}
		if e.Resources != nil {
			fmt.Fprintf(&b, " %v count=%d", e.Resources, e.Count)
		}
	}
	return b.String()
}

func createNamespace(t *testing.T, cs kubernetes.Interface, prefix string) string {
	t.Helper()
	name := k8stest.Namespace(prefix)
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// testLogger writes MeshSync's log into the test's output (shown when it fails).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// listings is how many times MeshSync listed path so far.
func (h *harness) listings(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lists[path]
}

// loseWatch cuts MeshSync's open watches of path, and answers its next attempt to
// resume with 410 Expired, as after a long disconnection: client-go must relist.
func (h *harness) loseWatch(path string) {
	h.mu.Lock()
	h.expire[path] = true
	bodies := h.watches[path]
	h.watches[path] = nil
	h.mu.Unlock()
	for _, b := range bodies {
		_ = b.Close()
	}
}

// requested is how many requests MeshSync made to paths containing part.
func (h *harness) requested(part string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for p, c := range h.requests {
		// A resource's own path segment: not a CRD named after it
		// (customresourcedefinitions/gadgets.example.com).
		if strings.HasSuffix(p, part) || strings.Contains(p, part+"/") {
			n += c
		}
	}
	return n
}

// requestedPaths lists the paths requested that requested(part) counts, for messages.
func (h *harness) requestedPaths(part string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for p := range h.requests {
		if strings.HasSuffix(p, part) || strings.Contains(p, part+"/") {
			out = append(out, p)
		}
	}
	return out
}
