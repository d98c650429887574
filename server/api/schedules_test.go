package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/schedule"
)

func TestSchedulesAndTrend(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		h.do("POST", "/api/v1/profiles", h.editor, map[string]any{"name": "sched", "config": h.config("/sched", 20, time.Second)})
		code, body := h.do("POST", "/api/v1/schedules", h.editor, map[string]any{"name": "x", "profile": "nope", "cron": "every day", "missed": "later"})
		fields := map[string]bool{}
		for _, f := range errorOf(t, body).Fields {
			fields[f.Path] = true
		}
		if code != 400 || !fields["cron"] || !fields["missed"] {
			t.Errorf("bad schedule: %d %s", code, body)
		}
		if code, body := h.do("POST", "/api/v1/schedules", h.editor, map[string]any{"name": "x", "profile": "nope", "cron": "@daily"}); code != 400 || !strings.Contains(string(body), `"profile"`) {
			t.Errorf("unknown profile: %d %s", code, body)
		}
		if code, _ := h.do("POST", "/api/v1/schedules", h.viewer, map[string]any{"name": "x", "profile": "sched", "cron": "@daily"}); code != 403 {
			t.Errorf("viewer: %d", code)
		}
		code, body = h.do("POST", "/api/v1/schedules", h.editor, map[string]any{"name": "every-second", "profile": "sched", "cron": "@every 1s"})
		var sc struct {
			ID      string
			Next    []time.Time
			History []struct {
				RunID   string `json:"run_id"`
				Outcome string
			}
			Paused bool
		}
		json.Unmarshal(body, &sc)
		if code != 201 || len(sc.Next) != 3 {
			t.Fatalf("create: %d %s", code, body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
		defer cancel()
		schedule.New(h.st, h.mgr, "test", quiet).Run(ctx) // fires every second; the manager runs them
		if code, body := h.do("POST", "/api/v1/schedules/every-second/pause", h.editor, nil); code != 200 || !strings.Contains(string(body), `"paused": true`) {
			t.Errorf("pause: %d %s", code, body)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			un, _ := h.st.UnfinishedRuns(context.Background(), "")
			if len(un) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		_, body = h.do("GET", "/api/v1/schedules/every-second", h.viewer, nil)
		sc.Next, sc.History = nil, nil // the answer omits next while paused
		json.Unmarshal(body, &sc)
		if len(sc.History) < 2 || sc.History[0].RunID == "" || sc.History[0].Outcome != "started" || len(sc.Next) != 0 {
			t.Fatalf("history: %s", body)
		}
		_, body = h.do("GET", "/api/v1/runs/"+sc.History[0].RunID, h.viewer, nil)
		if !strings.Contains(string(body), `"triggered_by": "schedule:every-second"`) || !strings.Contains(string(body), `"completed"`) {
			t.Errorf("a fired run: %s", body)
		}
		code, body = h.do("GET", "/api/v1/profiles/sched/trend?metric=p99", h.viewer, nil)
		var tr struct {
			Metric string
			Points []struct {
				Value    float64
				ResultID string `json:"result_id"`
			}
		}
		json.Unmarshal(body, &tr)
		if code != 200 || len(tr.Points) < 2 || tr.Points[0].Value <= 0 || tr.Metric != "p99" {
			t.Errorf("trend: %d %s", code, body)
		}
		// A metric without a result column (p75, from the metric registry) is read from
		// the stored results' summaries: every point has one, between p50 and p99.
		code, body = h.do("GET", "/api/v1/profiles/sched/trend?metric=p75", h.viewer, nil)
		var p75 struct {
			Metric string
			Points []struct{ Value float64 }
		}
		json.Unmarshal(body, &p75)
		if code != 200 || p75.Metric != "p75" || len(p75.Points) < 2 || p75.Points[0].Value <= 0 || p75.Points[0].Value > tr.Points[0].Value {
			t.Errorf("trend of p75: %d %s", code, body)
		}
		if code, body := h.do("GET", "/api/v1/profiles/sched/trend?metric=p98", h.viewer, nil); code != 400 || !strings.Contains(string(body), "one of p50, p75") {
			t.Errorf("bad trend metric: %d %s", code, body)
		}
		if code, _ := h.do("POST", "/api/v1/schedules/every-second/resume", h.editor, nil); code != 200 {
			t.Errorf("resume: %d", code)
		}
		if code, _ := h.do("DELETE", "/api/v1/schedules/every-second", h.editor, nil); code != 204 {
			t.Errorf("delete: %d", code)
		}
		if code, _ := h.do("GET", "/api/v1/schedules/every-second", h.viewer, nil); code != 404 {
			t.Errorf("deleted: %d", code)
		}
	})
}
