package api_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshperf/meshperf/adapters/adapter"
	"github.com/meshperf/meshperf/adapters/charts/chartstest"
	"github.com/meshperf/meshperf/adapters/linkerd"
	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/server/adapters"
	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/store"
)

// opStream reads an operation's server-sent events to its end.
func opStream(t *testing.T, url, token string, after int64) ([]apitypes.OperationEvent, apitypes.Operation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"?after="+itoa(after), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var evs []apitypes.OperationEvent
	var typ string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := []byte(strings.TrimPrefix(line, "data: "))
			if typ == "end" {
				var op apitypes.Operation
				if err := json.Unmarshal(data, &op); err != nil {
					t.Fatal(err)
				}
				return evs, op
			}
			var e apitypes.OperationEvent
			if err := json.Unmarshal(data, &e); err != nil {
				t.Fatal(err)
			}
			evs = append(evs, e)
		}
	}
	t.Fatalf("the stream ended without its end event (%d events): %v", len(evs), sc.Err())
	return nil, apitypes.Operation{}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// The adapters' API: registration (admin only), the registry, an operation started,
// followed live over SSE to its per-cluster outcome, read back and listed; bad input
// named; every answer checked against openapi.json. Both databases.
func TestAdaptersAPI(t *testing.T) {
	merged := k8stest.Require(t, 1)
	repo := chartstest.Serve(t, chartstest.Linkerd("1.16.11", "stable-2.14.10")...)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	actx, stopAdapter := context.WithCancel(context.Background())
	srv := adapter.NewServer(actx, linkerd.New(repo.URL, "ghcr.io/meshperf/meshperf:test"), adapter.Options{Version: "test"})
	served := make(chan struct{})
	go func() { _ = srv.Serve(actx, lis); close(served) }()
	t.Cleanup(func() { stopAdapter(); <-served })

	each(t, func(t *testing.T, kind string) {
		var conns *connections.Manager
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		h := newHarness(t, kind, api.Options{}, func(st *store.Store, opt *api.Options) {
			opt.Adapters = adapters.New(ctx, st, func(ctx context.Context, ref string) (string, []byte, error) {
				return conns.Kubeconfig(ctx, ref)
			}, adapters.Options{Logger: quiet})
		})
		conns = h.conns
		if code, body := h.do("POST", "/api/v1/clusters", h.admin, map[string]any{"kubeconfig": string(k8stest.One(t, merged, "c1", ""))}); code != 201 {
			t.Fatalf("add c1: %d %s", code, body)
		}
		reg := apitypes.AdapterRegistration{Address: lis.Addr().String(), Mesh: "linkerd"}
		if code, _ := h.do("POST", "/api/v1/adapters", h.editor, reg); code != 403 {
			t.Fatalf("an editor registered an adapter: %d", code)
		}
		if code, body := h.do("POST", "/api/v1/adapters", h.admin, map[string]any{"address": "nowhere", "mesh": "linkerd"}); code != 400 || errorOf(t, body).Fields[0].Path != "address" {
			t.Fatalf("a bad address: %d %s", code, body)
		}
		if code, body := h.do("POST", "/api/v1/adapters", h.admin, reg); code != 200 {
			t.Fatalf("register: %d %s", code, body)
		}
		code, body := h.do("GET", "/api/v1/adapters", h.viewer, nil)
		var list struct{ Items []apitypes.Adapter }
		_ = json.Unmarshal(body, &list)
		if code != 200 || len(list.Items) != 1 || list.Items[0].Mesh != "linkerd" || list.Items[0].MeshVersions[0] != "1.16.11" {
			t.Fatalf("adapters: %d %s", code, body)
		}

		ns := "mp-api-" + kind + "-" + suffix()
		if code, body := h.do("POST", "/api/v1/operations", h.admin, apitypes.OperationRequest{Mesh: "linkerd", Kind: "sample-deploy",
			Clusters: []string{"c1"}, Namespace: ns, Parameters: map[string]string{"inject": "perhaps"}}); code != 400 || !strings.Contains(string(body), "parameters.inject") {
			t.Fatalf("bad parameter: %d %s", code, body)
		}
		if code, _ := h.do("POST", "/api/v1/operations", h.editor, apitypes.OperationRequest{Mesh: "linkerd", Kind: "sample-deploy", Clusters: []string{"c1"}}); code != 403 {
			t.Fatalf("an editor started an operation: %d", code)
		}
		code, body = h.do("POST", "/api/v1/operations", h.admin, apitypes.OperationRequest{Mesh: "linkerd", Kind: "sample-deploy",
			Clusters: []string{"c1"}, Namespace: ns, Parameters: map[string]string{"inject": "false"}})
		var op apitypes.Operation
		_ = json.Unmarshal(body, &op)
		if code != 202 || op.State != "running" || len(op.Clusters) != 1 {
			t.Fatalf("start: %d %s", code, body)
		}
		t.Cleanup(func() {
			_ = k8stest.Clientset(t, merged, "c1").CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		})
		evs, end := opStream(t, h.url+"/api/v1/operations/"+op.ID+"/events", h.viewer, 0)
		if end.State != "succeeded" || end.Clusters[0].State != "succeeded" || end.Clusters[0].Details["inject"] != "false" {
			t.Fatalf("end: %+v", end)
		}
		for i, e := range evs {
			if e.Sequence != int64(i+1) {
				t.Fatalf("SSE event %d has sequence %d", i, e.Sequence)
			}
		}
		if len(evs) < 3 {
			t.Fatalf("%d events", len(evs))
		}
		// Resuming after a sequence gives the rest, the same events.
		rest, _ := opStream(t, h.url+"/api/v1/operations/"+op.ID+"/events", h.viewer, 2)
		if len(rest) != len(evs)-2 || rest[0].Sequence != 3 || rest[0].Summary != evs[2].Summary {
			t.Fatalf("resumed stream: %d events from %+v", len(rest), rest)
		}
		code, body = h.do("GET", "/api/v1/operations/"+op.ID+"/events?after=1", h.viewer, nil)
		var evList struct{ Items []apitypes.OperationEvent }
		_ = json.Unmarshal(body, &evList)
		if code != 200 || len(evList.Items) != len(evs)-1 {
			t.Fatalf("events list: %d %s", code, body)
		}
		if code, _ := h.do("GET", "/api/v1/operations/"+op.ID, h.viewer, nil); code != 200 {
			t.Fatalf("get: %d", code)
		}
		if code, _ := h.do("GET", "/api/v1/operations/op-nope", h.viewer, nil); code != 404 {
			t.Fatalf("get unknown: %d", code)
		}
		if code, _ := h.do("GET", "/api/v1/operations?state=bogus", h.viewer, nil); code != 400 {
			t.Fatalf("bad state: %d", code)
		}
		code, body = h.do("GET", "/api/v1/operations?limit=5", h.viewer, nil)
		var ops struct{ Items []apitypes.Operation }
		_ = json.Unmarshal(body, &ops)
		if code != 200 || len(ops.Items) != 1 || ops.Items[0].ID != op.ID {
			t.Fatalf("list: %d %s", code, body)
		}
		d, err := k8stest.Clientset(t, merged, "c1").AppsV1().Deployments(ns).Get(context.Background(), "meshperf-target", metav1.GetOptions{})
		if err != nil || d.Spec.Template.Annotations["linkerd.io/inject"] != "disabled" {
			t.Fatalf("sample app out of the mesh: %v", err)
		}

		code, body = h.do("POST", "/api/v1/operations", h.admin, apitypes.OperationRequest{Mesh: "linkerd", Kind: "sample-remove", Clusters: []string{"c1"}, Namespace: ns})
		_ = json.Unmarshal(body, &op)
		if code != 202 {
			t.Fatalf("remove: %d %s", code, body)
		}
		if _, end := opStream(t, h.url+"/api/v1/operations/"+op.ID+"/events", h.viewer, 0); end.State != "succeeded" {
			t.Fatalf("remove: %+v", end)
		}
		if _, err := k8stest.Clientset(t, merged, "c1").CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("the sample's namespace is still there: %v", err)
		}
	})
}

func suffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
