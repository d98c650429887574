package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/server"
)

const adminToken = "group-test-admin-token-0123456789"

type running struct {
	url  string
	done chan struct{} // closed when Run has returned (err)
	err  error
	stop context.CancelFunc
}

// start runs server.Run in this process and waits until it listens.
func start(t *testing.T, dir string, subsystems ...server.Subsystem) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	r := &running{done: make(chan struct{}), stop: cancel}
	go func() {
		defer close(r.done)
		r.err = server.Run(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir, AdminToken: adminToken, NATSAddr: "127.0.0.1:0",
			InstanceID: "group-test", Concurrency: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
			Ready: func(addr string) { ready <- addr }, Subsystems: subsystems})
	}()
	select {
	case addr := <-ready:
		r.url = "http://" + addr
	case <-r.done:
		t.Fatalf("the server did not start: %v", r.err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start within 30 s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
	})
	return r
}

func call(t *testing.T, method, url string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

type runState struct {
	Status   string
	ResultID string `json:"result_id"`
}

func waitStatus(t *testing.T, url, id string, within time.Duration, ok func(string) bool) runState {
	t.Helper()
	var got runState
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		call(t, "GET", url+"/api/v1/runs/"+id, nil, &got)
		if ok(got.Status) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is %q after %v", id, got.Status, within)
		}
	}
}

// One subsystem failing stops the whole server (the API stops answering, Run returns
// that subsystem's error), gracefully: the run in progress is stored, and the next
// start recovers it as interrupted with what it measured.
func TestOneFailingSubsystemStopsTheServerGracefully(t *testing.T) {
	tgt, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	dir := t.TempDir()
	fail := make(chan struct{})
	srv := start(t, dir, server.Subsystem{Name: "meshsync", Run: func(ctx context.Context) error {
		select {
		case <-fail:
			return errors.New("lost its cluster")
		case <-ctx.Done():
			return nil
		}
	}})
	var run struct{ ID string }
	cfg := map[string]any{"duration": "30s", "clients": []map[string]any{{"endpoint_urls": []string{tgt.URL() + "/group"}, "rps": 50}}}
	if code := call(t, "POST", srv.url+"/api/v1/runs", map[string]any{"config": cfg}, &run); code != 202 {
		t.Fatalf("starting a run: %d", code)
	}
	waitStatus(t, srv.url, run.ID, 20*time.Second, func(s string) bool { return s == "running" })
	for deadline := time.Now().Add(20 * time.Second); tgt.Stats().ByPath["/group"] < 100; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the run sent %d requests in 20 s", tgt.Stats().ByPath["/group"])
		}
	}
	close(fail)
	select {
	case <-srv.done:
		if srv.err == nil || !strings.Contains(srv.err.Error(), "meshsync: lost its cluster") {
			t.Errorf("Run returned %v, want the subsystem's error", srv.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the server kept running after a subsystem failed")
	}
	if resp, err := http.Get(srv.url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the API still answers after the group stopped")
	}
	again := start(t, dir)
	got := waitStatus(t, again.url, run.ID, 20*time.Second, func(s string) bool { return s != "running" && s != "queued" })
	if got.Status != "interrupted" || got.ResultID == "" {
		t.Errorf("after the restart the run is %+v, want interrupted with its result", got)
	}
}

// The caller's context ending stops every subsystem and Run returns nil.
func TestCancelStopsTheGroup(t *testing.T) {
	srv := start(t, t.TempDir())
	if code := call(t, "GET", srv.url+"/api/v1/agents", nil, nil); code != 200 {
		t.Fatalf("agents: %d", code)
	}
	srv.stop()
	select {
	case <-srv.done:
		if srv.err != nil {
			t.Errorf("Run returned %v after a clean stop", srv.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not stop within 20 s")
	}
}
