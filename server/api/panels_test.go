package api_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// The panels attached to a result's profile come back linked over the run's measured
// window on the Grafana connection named (or the only one); with several and none
// named, or an unknown one, the error names the parameter; a result without panels
// has no links.
func TestResultGrafanaPanels(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		ctx := context.Background()
		save := func(panels []smp.GrafanaPanel) *smp.Result {
			cfg := &smp.TestConfig{Name: "panels", Duration: smp.Duration(time.Second), GrafanaPanels: panels,
				Clients: []smp.Client{{RPS: 20, EndpointURLs: []string{h.target.URL() + "/"}}}}
			cfg.ApplyDefaults()
			res, err := perf.Run(ctx, cfg, perf.Options{Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			run := &store.Run{ProfileName: "panels", Status: store.RunCompleted, Config: "{}"}
			if err := h.st.CreateRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			if _, err := h.st.SaveResult(ctx, res, run); err != nil {
				t.Fatal(err)
			}
			return res
		}
		res := save([]smp.GrafanaPanel{{BoardUID: "mesh-overview", PanelID: 4, Title: "proxy CPU"}, {BoardUID: "mesh-overview", PanelID: 7}})
		bare := save(nil)
		path := "/api/v1/results/" + res.ID + "/grafana-panels"

		if code, b := h.do("GET", path, h.viewer, nil); code != 400 || !strings.Contains(string(b), `"connection"`) {
			t.Errorf("no Grafana connection at all: %d %s", code, b)
		}
		for _, g := range []map[string]any{{"kind": "grafana", "name": "g1", "url": "https://grafana.example/"},
			{"kind": "grafana", "name": "g2", "url": "https://other.example/grafana"}} {
			g["discover_only"] = true
			if code, b := h.do("POST", "/api/v1/connections", h.admin, g); code != 201 {
				t.Fatalf("adding %s: %d %s", g["name"], code, b)
			}
		}
		if code, b := h.do("GET", path, h.viewer, nil); code != 400 || !strings.Contains(string(b), "g1, g2") {
			t.Errorf("two Grafana connections, none named: %d %s", code, b)
		}
		if code, _ := h.do("GET", path+"?connection=nope", h.viewer, nil); code != 404 {
			t.Errorf("an unknown connection: %d", code)
		}
		code, b := h.do("GET", path+"?connection=g2", h.viewer, nil)
		var got api.ResultPanels
		if err := json.Unmarshal(b, &got); code != 200 || err != nil || got.Connection != "g2" || len(got.Links) != 2 {
			t.Fatalf("links: %d %s", code, b)
		}
		from, to := strconv.FormatInt(res.MeasureStart.UnixMilli(), 10), strconv.FormatInt(res.EndTime.UnixMilli(), 10)
		for i, l := range got.Links {
			if !strings.HasPrefix(l.URL, "https://other.example/grafana/") || !strings.Contains(l.URL, "mesh-overview") ||
				!strings.Contains(l.URL, "from="+from) || !strings.Contains(l.URL, "to="+to) {
				t.Errorf("link %d is not panel %d over the measured window %s..%s: %s", i, l.PanelID, from, to, l.URL)
			}
		}
		if got.Links[0].Title != "proxy CPU" || !strings.Contains(got.Links[0].URL, "viewPanel=4") {
			t.Errorf("first link: %+v", got.Links[0])
		}
		if code, b := h.do("GET", "/api/v1/results/"+bare.ID+"/grafana-panels", h.viewer, nil); code != 200 || !strings.Contains(string(b), `"links": []`) {
			t.Errorf("a result without panels: %d %s", code, b)
		}
		if code, _ := h.do("GET", "/api/v1/results/nope/grafana-panels", h.viewer, nil); code != 404 {
			t.Errorf("an unknown result: %d", code)
		}
	})
}
