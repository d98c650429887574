package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/dashboards"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// grafanaConnections stands in for the connections manager, which has no Grafana
// kind yet: it knows one connection, at a URL where nothing listens.
type grafanaConnections struct{}

func (grafanaConnections) Grafana(_ context.Context, name string) (string, string, error) {
	if name != "ops" {
		return "", "", api.ErrNoGrafanaConnection
	}
	return "http://127.0.0.1:1", "glsa_secret-token-never-shown", nil
}

func TestDashboardsRoute(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{Grafana: grafanaConnections{}})
		ctx := context.Background()
		var ids []string
		for _, latency := range []string{"1ms", "3ms"} {
			cfg := &smp.TestConfig{Name: "board-" + latency, Duration: smp.Duration(time.Second),
				Clients: []smp.Client{{RPS: 30, Connections: 2, EndpointURLs: []string{h.target.URL() + "/?latency=" + latency}}}}
			cfg.ApplyDefaults()
			res, err := perf.Run(ctx, cfg, perf.Options{Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			run := &store.Run{ProfileName: "board", Status: store.RunCompleted, Config: "{}"}
			if err := h.st.CreateRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			if _, err := h.st.SaveResult(ctx, res, run); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.ID)
		}

		// A viewer downloads the board: valid, both runs on every panel.
		code, body := h.do("POST", "/api/v1/dashboards", h.viewer, map[string]any{"results": ids, "prometheus_datasource": "prom"})
		if code != 200 {
			t.Fatalf("download: %d %s", code, body)
		}
		if err := dashboards.Validate(body); err != nil {
			t.Fatalf("served board: %v", err)
		}
		var board struct {
			Panels []struct {
				Targets []json.RawMessage `json:"targets"`
			} `json:"panels"`
			Annotations struct{ List []json.RawMessage } `json:"annotations"`
		}
		_ = json.Unmarshal(body, &board)
		if len(board.Panels) == 0 || len(board.Annotations.List) != 2 {
			t.Fatalf("%d panels, %d annotations", len(board.Panels), len(board.Annotations.List))
		}
		for i, p := range board.Panels {
			if len(p.Targets) != 2 {
				t.Errorf("panel %d: %d queries", i, len(p.Targets))
			}
		}

		for _, tc := range []struct {
			name, token string
			body        any
			code        int
			want        string
		}{
			{"no results", h.viewer, map[string]any{"results": []string{}}, 400, "results"},
			{"unknown field", h.viewer, map[string]any{"results": ids, "grafana": "x"}, 400, "grafana"},
			{"missing result", h.viewer, map[string]any{"results": []string{ids[0], "00000000-dead"}}, 404, "results[1]"},
			{"twice", h.viewer, map[string]any{"results": []string{ids[0], ids[0]}}, 400, "given twice"},
			{"viewer uploads", h.viewer, map[string]any{"results": ids, "connection": "ops"}, 403, "editor"},
			{"unknown connection", h.editor, map[string]any{"results": ids, "connection": "nope"}, 404, "connection"},
			{"grafana down", h.editor, map[string]any{"results": ids, "connection": "ops"}, 502, "ops"},
		} {
			code, body := h.do("POST", "/api/v1/dashboards", tc.token, tc.body)
			if code != tc.code || !strings.Contains(string(body), tc.want) {
				t.Errorf("%s: %d %s, want %d naming %s", tc.name, code, body, tc.code, tc.want)
			}
			if strings.Contains(string(body), "secret-token") {
				t.Errorf("%s: the credential is in the answer: %s", tc.name, body)
			}
		}
	})

	// Without Grafana connections an upload is refused as unavailable.
	h := newHarness(t, "sqlite", api.Options{})
	code, body := h.do("POST", "/api/v1/dashboards", h.editor, map[string]any{"results": []string{"x"}, "connection": "ops"})
	if e := errorOf(t, body); code != 503 || !strings.Contains(e.Message, "no Grafana connections") {
		t.Errorf("no connections: %d %s", code, body)
	}
}
