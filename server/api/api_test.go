package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/meshes"
	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/secrets"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
	"github.com/meshperf/meshperf/smp"
)

type harness struct {
	t                     *testing.T
	url                   string
	st                    *store.Store
	admin, editor, viewer string
	target                *sampleapp.Server
	mgr                   *runs.Manager
	conns                 *connections.Manager
}

// newHarness serves the API over a fresh database of kind; with is called with the
// store before the API is built (to add what needs it, such as an inventory).
func newHarness(t *testing.T, kind string, opt api.Options, with ...func(*store.Store, *api.Options)) *harness {
	t.Helper()
	st := storetest.Open(t, kind)
	for _, f := range with {
		f(st, &opt)
	}
	tgt, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tgt.Close)
	ctx, cancel := context.WithCancel(context.Background())
	box, _, err := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	conns := connections.New(st, connections.Options{Box: box, Logger: quiet,
		Agents: connections.AgentDefaults{BrokerUser: "agent", AgentToken: "agent-token-for-tests", Image: "ghcr.io/meshperf/meshperf:test"}})
	meshSvc := meshes.New(conns, &meshes.LiveSource{Clusters: conns}, quiet)
	mgr := runs.New(st, runs.Options{Owner: "test-" + kind, Concurrency: 2, Logger: quiet, Clusters: meshSvc})
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); mgr.Wait() })
	opt.Logger = quiet
	opt.Clusters = conns
	opt.Meshes = meshSvc
	srv := httptest.NewServer(checkResponses(t, api.New(st, mgr, opt).Handler()))
	t.Cleanup(srv.Close)
	h := &harness{t: t, url: srv.URL, st: st, target: tgt, mgr: mgr, conns: conns}
	for _, u := range []struct {
		name, role string
		tok        *string
	}{{"root", "admin", &h.admin}, {"ed", "editor", &h.editor}, {"vi", "viewer", &h.viewer}} {
		*u.tok = "mpt_test-token-" + u.name + "-" + kind
		if _, err := st.CreateUserWithToken(context.Background(), u.name, u.role, *u.tok); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func (h *harness) do(method, path, token string, body any) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, h.url+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (h *harness) config(path string, rps int64, d time.Duration) map[string]any {
	return map[string]any{"duration": d.String(), "labels": map[string]string{"team": "perf"},
		"clients": []map[string]any{{"endpoint_urls": []string{h.target.URL() + path}, "rps": rps, "connections": 4}}}
}

func each(t *testing.T, f func(t *testing.T, kind string)) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) { f(t, kind) })
	}
}

func errorOf(t *testing.T, body []byte) api.Error {
	var e struct{ Error api.Error }
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not the error shape: %s", body)
	}
	return e.Error
}

func TestAuthAndRoles(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		if code, body := h.do("GET", "/api/v1/profiles", "", nil); code != 401 || errorOf(t, body).RequestID == "" {
			t.Errorf("no token: %d %s", code, body)
		}
		if code, _ := h.do("GET", "/api/v1/profiles", "mpt_nope", nil); code != 401 {
			t.Errorf("bad token: %d", code)
		}
		if code, _ := h.do("GET", "/api/v1/profiles", h.viewer, nil); code != 200 {
			t.Errorf("viewer read: %d", code)
		}
		code, body := h.do("POST", "/api/v1/profiles", h.viewer, map[string]any{"name": "x", "config": h.config("/", 10, time.Second)})
		if code != 403 || !strings.Contains(errorOf(t, body).Message, "editor") {
			t.Errorf("viewer write: %d %s", code, body)
		}
		if code, _ := h.do("POST", "/api/v1/users", h.editor, map[string]any{"name": "z", "role": "viewer"}); code != 403 {
			t.Errorf("editor creating a user: %d", code)
		}
		code, body = h.do("POST", "/api/v1/users", h.admin, map[string]any{"name": "ci-bot", "role": "editor"})
		var created struct{ Token string }
		json.Unmarshal(body, &created)
		if code != 201 || !strings.HasPrefix(created.Token, "mpt_") {
			t.Fatalf("admin creating a user: %d %s", code, body)
		}
		if code, body := h.do("GET", "/api/v1/whoami", created.Token, nil); code != 200 || !strings.Contains(string(body), `"editor"`) {
			t.Errorf("new user's token: %d %s", code, body)
		}
		if code, body := h.do("POST", "/api/v1/users", h.admin, map[string]any{"name": "", "role": "root"}); code != 400 || len(errorOf(t, body).Fields) != 2 {
			t.Errorf("bad user: %d %s", code, body)
		}
		// public endpoints
		for _, p := range []string{"/healthz", "/readyz", "/api/v1/openapi.json"} {
			if code, _ := h.do("GET", p, "", nil); code != 200 {
				t.Errorf("%s: %d", p, code)
			}
		}
	})
}

func TestAnonymousReadNeverWrites(t *testing.T) {
	h := newHarness(t, "sqlite", api.Options{AnonymousRead: true})
	if code, _ := h.do("GET", "/api/v1/results", "", nil); code != 200 {
		t.Errorf("anonymous read: %d", code)
	}
	if code, _ := h.do("POST", "/api/v1/runs", "", map[string]any{"config": h.config("/", 10, time.Second)}); code != 401 {
		t.Errorf("anonymous write: %d", code)
	}
}

func TestProfilesVersionsAndErrors(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		code, body := h.do("POST", "/api/v1/profiles", h.editor, map[string]any{"name": "checkout", "config": h.config("/c", 20, time.Second)})
		if code != 201 {
			t.Fatalf("create: %d %s", code, body)
		}
		if code, _ := h.do("POST", "/api/v1/profiles", h.editor, map[string]any{"name": "checkout", "config": h.config("/c", 20, time.Second)}); code != 409 {
			t.Errorf("duplicate: %d", code)
		}
		// every bad field named, in the config and the body
		bad := `{"name": "b", "config": {"clients": [{"endpoint_urls": ["ftp://x"], "rsp": 5, "protocol": "GRPC", "load_generator": "vegeta"}]}, "colour": "red"}`
		code, body = h.do("POST", "/api/v1/profiles", h.editor, bad)
		e := errorOf(t, body)
		if code != 400 {
			t.Fatalf("bad body: %d %s", code, body)
		}
		fields := map[string]bool{}
		for _, f := range e.Fields {
			fields[f.Path] = true
		}
		if !fields["colour"] || !fields["config.clients[0].rsp"] {
			t.Errorf("unknown fields not named: %s", body)
		}
		code, body = h.do("POST", "/api/v1/profiles", h.editor, `{"name": "b", "config": {"clients": [{"endpoint_urls": ["ftp://x"], "protocol": "GRPC", "load_generator": "vegeta"}]}}`)
		e = errorOf(t, body)
		fields = map[string]bool{}
		for _, f := range e.Fields {
			fields[f.Path] = true
		}
		if code != 400 || !fields["config.clients[0].endpoint_urls[0]"] || !fields["config.clients[0].protocol"] {
			t.Errorf("invalid config not named: %d %s", code, body)
		}
		code, body = h.do("PUT", "/api/v1/profiles/checkout", h.editor, map[string]any{"config": h.config("/c2", 30, time.Second)})
		var p struct{ Version int }
		json.Unmarshal(body, &p)
		if code != 200 || p.Version != 2 {
			t.Errorf("update: %d %s", code, body)
		}
		code, body = h.do("GET", "/api/v1/profiles/checkout/versions", h.viewer, nil)
		if code != 200 || strings.Count(string(body), `"version"`) != 2 {
			t.Errorf("versions: %d %s", code, body)
		}
		if code, body := h.do("POST", "/api/v1/profiles", h.editor, strings.Repeat(" ", 2<<20)); code != 413 || errorOf(t, body).Code != "too_large" {
			t.Errorf("big body: %d", code)
		}
		if code, _ := h.do("GET", "/api/v1/nope", h.viewer, nil); code != 404 {
			t.Errorf("unknown route: %d", code)
		}
		code, body = h.do("GET", "/api/v1/results?limit=0&since=yesterday&label=novalue", h.viewer, nil)
		e = errorOf(t, body)
		if code != 400 || !strings.Contains(string(body), `"limit"`) {
			t.Errorf("bad query: %d %s", code, body)
		}
		if code, _ := h.do("DELETE", "/api/v1/profiles/checkout", h.editor, nil); code != 200 {
			t.Errorf("delete: %d", code)
		}
		if code, _ := h.do("GET", "/api/v1/profiles/checkout", h.viewer, nil); code != 404 {
			t.Errorf("deleted profile: %d", code)
		}
	})
}

type sseEvent struct {
	typ  string
	data string
}

func readEvents(t *testing.T, url, token string, timeout time.Duration) []sseEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var evs []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		case line == "" && cur.typ != "":
			evs = append(evs, cur)
			if cur.typ == "end" {
				return evs
			}
			cur = sseEvent{}
		}
	}
	t.Fatalf("stream ended without an end event (%d events): %v", len(evs), sc.Err())
	return nil
}

// A profile runs through the API: live events every second, the result stored and
// served in every format, listed with filters, compared.
func TestRunLifecycle(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		h.do("POST", "/api/v1/profiles", h.editor, map[string]any{"name": "api", "config": h.config("/run", 1000, 10*time.Second)})
		code, body := h.do("POST", "/api/v1/profiles/api/runs", h.editor,
			map[string]any{"overrides": map[string]any{"duration": "2s", "rps": 100, "labels": map[string]string{"build": "42"}}})
		var run struct {
			ID             string
			ProfileVersion int `json:"profile_version"`
			Overrides      map[string]any
			Status         string
		}
		json.Unmarshal(body, &run)
		if code != 202 || run.ID == "" || run.ProfileVersion != 1 || run.Overrides["rps"] != float64(100) {
			t.Fatalf("run: %d %s", code, body)
		}
		evs := readEvents(t, h.url+"/api/v1/runs/"+run.ID+"/events", h.viewer, 30*time.Second)
		counts := map[string]int{}
		var result smp.Result
		for _, ev := range evs {
			counts[ev.typ]++
			if ev.typ == "result" {
				if err := json.Unmarshal([]byte(ev.data), &result); err != nil {
					t.Fatalf("result event: %v", err)
				}
			}
		}
		if counts["status"] < 1 || counts["progress"] < 1 || counts["result"] != 1 || counts["end"] != 1 {
			t.Errorf("events %v", counts)
		}
		if result.Summary.Requests != 200 || result.Labels["build"] != "42" || result.Labels["team"] != "perf" {
			t.Errorf("result: %d requests, labels %v", result.Summary.Requests, result.Labels)
		}
		if got := h.target.Stats().ByPath["/run"]; got != 200 {
			t.Errorf("the target received %d", got)
		}
		code, body = h.do("GET", "/api/v1/runs/"+run.ID, h.viewer, nil)
		var done struct {
			Status   string
			ResultID string `json:"result_id"`
		}
		json.Unmarshal(body, &done)
		if done.Status != "completed" || done.ResultID == "" {
			t.Fatalf("run after: %s", body)
		}
		// every stored interval is there
		ivs, _ := h.st.Intervals(context.Background(), run.ID)
		if len(ivs) < 2 {
			t.Errorf("%d intervals stored", len(ivs))
		}
		for format, want := range map[string]string{"json": `"intervals"`, "yaml": "intervals:", "smp": "latencies_ms:", "smp-json": `"latencies_ms"`, "csv": "source,second,"} {
			code, body := h.do("GET", "/api/v1/results/"+done.ResultID+"?format="+format, h.viewer, nil)
			if code != 200 || !strings.Contains(string(body), want) {
				t.Errorf("format %s: %d %.200s", format, code, body)
			}
		}
		code, body = h.do("GET", "/api/v1/results/"+done.ResultID+"?intervals=false", h.viewer, nil)
		if code != 200 || strings.Contains(string(body), `"intervals"`) || !strings.Contains(string(body), `"latency_histogram"`) {
			t.Errorf("a result without its intervals: %d %.200s", code, body)
		}
		if code, body := h.do("GET", "/api/v1/results/"+done.ResultID+"?intervals=no", h.viewer, nil); code != 400 || !strings.Contains(string(body), `"field": "intervals"`) {
			t.Errorf("intervals=no: %d %s", code, body)
		}
		// what the UI draws: the curve and histogram from the stored HDR histogram
		code, body = h.do("GET", "/api/v1/results/"+done.ResultID+"/charts", h.viewer, nil)
		var charts apitypes.ResultCharts
		json.Unmarshal(body, &charts)
		var binned int64
		for _, b := range charts.Histogram {
			binned += b.Count
		}
		if code != 200 || binned != 200 || len(charts.Percentiles) < 20 || len(charts.Series.RPS) < 1 || charts.MaxMs <= 0 {
			t.Errorf("charts: %d, %d binned, %d points, %d seconds: %.300s", code, binned, len(charts.Percentiles), len(charts.Series.RPS), body)
		}
		if code, _ := h.do("GET", "/api/v1/results/nosuchresult/charts", h.viewer, nil); code != 404 {
			t.Errorf("charts of no result: %d", code)
		}
		// an ad-hoc run, then list by label and compare
		code, body = h.do("POST", "/api/v1/runs", h.editor, map[string]any{"config": h.config("/adhoc", 50, time.Second)})
		json.Unmarshal(body, &run)
		readEvents(t, h.url+"/api/v1/runs/"+run.ID+"/events", h.viewer, 30*time.Second)
		code, body = h.do("GET", "/api/v1/results?label=team=perf&profile=api", h.viewer, nil)
		var page struct {
			Items []struct {
				ID       string
				Requests int64
			}
		}
		json.Unmarshal(body, &page)
		if code != 200 || len(page.Items) != 1 || page.Items[0].ID != done.ResultID {
			t.Errorf("list by profile+label: %d %s", code, body)
		}
		_, body = h.do("GET", "/api/v1/results?label=team=perf", h.viewer, nil)
		json.Unmarshal(body, &page)
		if len(page.Items) != 2 {
			t.Fatalf("list by label: %s", body)
		}
		code, body = h.do("GET", fmt.Sprintf("/api/v1/results/compare?ids=%s,%s", page.Items[1].ID, page.Items[0].ID), h.viewer, nil)
		var cmp apitypes.Comparison
		json.Unmarshal(body, &cmp)
		if code != 200 || len(cmp.Results) != 2 || cmp.Metrics[0].Metric != "rps" || len(cmp.Metrics[0].Delta) != 2 || cmp.Metrics[0].Delta[0] != 0 ||
			len(cmp.Changes) != 1 || len(cmp.Changes[0].Changes) != 6 {
			t.Errorf("compare: %d %s", code, body)
		}
		if code, _ := h.do("GET", "/api/v1/results/compare?ids=one", h.viewer, nil); code != 400 {
			t.Errorf("compare one: %d", code)
		}
		if code, _ := h.do("DELETE", "/api/v1/results/"+done.ResultID, h.editor, nil); code != 204 {
			t.Errorf("delete result: %d", code)
		}
	})
}

// Cancelling a running run stops it and keeps what it measured.
func TestCancelKeepsPartialResult(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		_, body := h.do("POST", "/api/v1/runs", h.editor, map[string]any{"config": h.config("/long", 100, 30*time.Second)})
		var run struct{ ID string }
		json.Unmarshal(body, &run)
		time.Sleep(1500 * time.Millisecond)
		if code, body := h.do("POST", "/api/v1/runs/"+run.ID+"/cancel", h.editor, nil); code != 202 {
			t.Fatalf("cancel: %d %s", code, body)
		}
		evs := readEvents(t, h.url+"/api/v1/runs/"+run.ID+"/events", h.viewer, 10*time.Second)
		if last := evs[len(evs)-1]; !strings.Contains(last.data, `"cancelled"`) {
			t.Errorf("end: %v", last)
		}
		_, body = h.do("GET", "/api/v1/runs/"+run.ID, h.viewer, nil)
		var done struct {
			Status   string
			ResultID string `json:"result_id"`
		}
		json.Unmarshal(body, &done)
		_, res, err := h.st.GetResult(context.Background(), done.ResultID)
		if done.Status != "cancelled" || err != nil || res.Summary.Requests < 50 || res.Status != smp.StatusPartial {
			t.Errorf("cancelled run: %s; result %v", body, err)
		}
		if code, _ := h.do("POST", "/api/v1/runs/"+run.ID+"/cancel", h.editor, nil); code != 409 {
			t.Errorf("cancel twice: %d", code)
		}
	})
}

func TestTargetPolicy(t *testing.T) {
	policy, err := api.ParseTargetPolicy([]string{"10.0.0.0/8", "*.internal"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "sqlite", api.Options{Targets: policy})
	code, body := h.do("POST", "/api/v1/runs", h.editor, map[string]any{"config": h.config("/", 10, time.Second)})
	if code != 400 || !strings.Contains(string(body), "config.clients[0].endpoint_urls[0]") || !strings.Contains(string(body), "allowed targets") {
		t.Errorf("loopback target allowed: %d %s", code, body)
	}
	if _, err := api.ParseTargetPolicy([]string{"10.0.0.0/33"}); err == nil {
		t.Errorf("bad CIDR accepted")
	}
}

// quiet drops the access log in tests; failures report what they need.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func serve(t *testing.T, a *api.API) string {
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}
