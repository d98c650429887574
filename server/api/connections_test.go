package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/internal/promtest"
	"github.com/meshperf/meshperf/server/api"
)

// Prometheus connections through the API against a real Prometheus: roles, fields
// named, one shape with the clusters (every answer checked against openapi.json),
// the credential never answered, check and delete through the shared routes.
func TestConnectionsAPI(t *testing.T) {
	prom := promtest.Start(t)
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		body := map[string]any{"kind": "prometheus", "name": "prom", "url": prom.URL, "bearer_token": "tok-5e2b0c"}
		if code, _ := h.do("POST", "/api/v1/connections", h.editor, body); code != 403 {
			t.Fatalf("an editor added a connection: %d", code)
		}
		code, b := h.do("POST", "/api/v1/connections", h.admin, map[string]any{"kind": "prometheus", "name": "x", "url": "nope"})
		if code != 400 || !strings.Contains(string(b), `"url"`) {
			t.Fatalf("a bad url: %d %s", code, b)
		}
		code, b = h.do("POST", "/api/v1/connections", h.admin, body)
		if code != 201 || strings.Contains(string(b), "tok-5e2b0c") || !strings.Contains(string(b), `"state": "connected"`) {
			t.Fatalf("add: %d %s", code, b)
		}
		code, b = h.do("GET", "/api/v1/connections?kind=prometheus", h.viewer, nil)
		var list struct {
			Items []struct{ Name, Kind, State string }
		}
		json.Unmarshal(b, &list)
		if code != 200 || len(list.Items) != 1 || list.Items[0].Kind != "prometheus" || strings.Contains(string(b), "tok-5e2b0c") {
			t.Fatalf("list: %d %s", code, b)
		}
		if code, b := h.do("GET", "/api/v1/connections?kind=mysql", h.viewer, nil); code != 400 || !strings.Contains(string(b), `"kind"`) {
			t.Errorf("an unknown kind: %d %s", code, b)
		}
		if code, b := h.do("POST", "/api/v1/connections/prom/check", h.editor, nil); code != 200 || !strings.Contains(string(b), `"connected"`) {
			t.Errorf("check: %d %s", code, b)
		}
		run := func(metrics map[string]any) (int, string) {
			code, b := h.do("POST", "/api/v1/runs", h.editor, map[string]any{"config": map[string]any{"duration": "1s",
				"clients": []map[string]any{{"endpoint_urls": []string{"http://127.0.0.1:1/"}, "rps": 1}}, "metrics": metrics}})
			return code, string(b)
		}
		if code, b := run(map[string]any{"prometheus": "nope"}); code != 400 || !strings.Contains(b, `"config.metrics.prometheus"`) {
			t.Errorf("a run naming no such Prometheus: %d %s", code, b)
		}
		if code, b := run(map[string]any{"prometheus": "prom", "queries": []map[string]any{{"name": "q", "query": "sum(rate(x[1m])"}}}); code != 400 ||
			!strings.Contains(b, `"config.metrics.queries[0].query"`) {
			t.Errorf("a run with bad PromQL: %d %s", code, b)
		}
		if code, b := h.do("DELETE", "/api/v1/connections/prom", h.admin, nil); code != 200 {
			t.Errorf("delete: %d %s", code, b)
		}
		if code, _ := h.do("GET", "/api/v1/connections/prom", h.viewer, nil); code != 404 {
			t.Errorf("get after delete: %d", code)
		}
	})
}
