package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// The API takes the short ids the tables print: a unique prefix finds the result, an
// ambiguous one is a 400 naming the candidates, and compare takes prefixes too.
func TestResultsByIDPrefix(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		ctx := context.Background()
		start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for _, id := range []string{"abcd1234-0000-4000-8000-000000000001", "abcd1234-1111-4000-8000-000000000002", "ef012345-0000-4000-8000-000000000003"} {
			run := &store.Run{ProfileName: "p", Status: store.RunCompleted, Config: "{}"}
			if err := h.st.CreateRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			hist := smp.NewHistogram()
			hist.RecordMicros(1000)
			res := &smp.Result{ID: id, Status: smp.StatusCompleted, StartTime: start, EndTime: start.Add(time.Second),
				Latency: hist, Summary: smp.Summary{Requests: 1, Latency: smp.Summarize(hist)}}
			if _, err := h.st.SaveResult(ctx, res, run); err != nil {
				t.Fatal(err)
			}
		}
		if code, body := h.do("GET", "/api/v1/results/ef012345", h.viewer, nil); code != 200 || !strings.Contains(string(body), "ef012345-0000") {
			t.Errorf("unique prefix: %d %s", code, body)
		}
		code, body := h.do("GET", "/api/v1/results/abcd1234", h.viewer, nil)
		if e := errorOf(t, body); code != 400 || !strings.Contains(e.Message, "ambiguous") || !strings.Contains(e.Message, "abcd1234-1111") {
			t.Errorf("ambiguous prefix: %d %s", code, body)
		}
		if code, body := h.do("GET", "/api/v1/results/compare?ids=abcd1234-0,ef01", h.viewer, nil); code != 200 {
			t.Errorf("compare by prefixes: %d %s", code, body)
		}
	})
}
