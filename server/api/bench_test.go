package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
	"github.com/meshperf/meshperf/smp"
)

// BenchmarkResultsAt100k seeds 100,000 results in PostgreSQL and times, through the
// HTTP API: a list filtered by a common label (2% of results match), by a rare label
// (one result in 100,000), and a comparison of 10 results. It reports p50 and p99 in
// milliseconds; the target is p99 under 50 ms.
func BenchmarkResultsAt100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	st := storetest.Open(b, "postgres")
	h := smp.NewHistogram()
	for i := range 1000 {
		h.RecordMicros(int64(500 + i*3))
	}
	blob, err := store.Pack(&smp.Result{ID: "x", Status: smp.StatusCompleted, Latency: h,
		Summary: smp.Summary{Requests: 1000, Latency: smp.Summarize(h)}})
	if err != nil {
		b.Fatal(err)
	}
	seed := time.Now()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for chunk := 0; chunk < n; chunk += 5000 {
		rows := make([]store.Result, 0, 5000)
		labels := make([]store.ResultLabel, 0, 15000)
		for i := chunk; i < chunk+5000; i++ {
			id := fmt.Sprintf("r%06d", i)
			rows = append(rows, store.Result{ID: id, RunID: id, ProfileName: fmt.Sprintf("p%d", i%20), Status: "completed",
				StartTime: base.Add(time.Duration(i) * time.Minute), EndTime: base.Add(time.Duration(i)*time.Minute + 30*time.Second),
				Requests: 1000, ActualRPS: 100, P50Ms: 1, P99Ms: 4, Data: blob,
				Labels: fmt.Sprintf(`{"team":"t%d","build":"%d"}`, i%50, i)})
			start := rows[len(rows)-1].StartTime
			labels = append(labels, store.ResultLabel{ResultID: id, Key: "team", Value: fmt.Sprintf("t%d", i%50), StartTime: start},
				store.ResultLabel{ResultID: id, Key: "build", Value: fmt.Sprint(i), StartTime: start},
				store.ResultLabel{ResultID: id, Key: "env", Value: []string{"prod", "staging"}[i%2], StartTime: start})
		}
		if err := st.InsertResultRows(ctx, rows, labels); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Analyze(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d results in %v", n, time.Since(seed).Round(time.Millisecond))
	token := "mpt_bench-viewer-token-000"
	st.CreateUserWithToken(ctx, "bench", "viewer", token)
	srv := httptest.NewServer(api.New(st, runs.New(st, runs.Options{Logger: quiet}), api.Options{Logger: quiet}).Handler())
	defer srv.Close()
	get := func(path string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%s: %v %v", path, err, resp.Status)
		}
		resp.Body.Close()
	}
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%06d", i*9973)
	}
	cases := []struct{ name, path string }{
		{"list-common-label", "/api/v1/results?label=team=t7&limit=50"},
		{"list-half-label", "/api/v1/results?label=env=staging&limit=50"},
		{"list-two-labels", "/api/v1/results?label=team=t7&label=env=staging&limit=50"},
		{"list-rare-label", "/api/v1/results?label=build=54321&limit=50"},
		{"compare-10", "/api/v1/results/compare?ids=" + strings.Join(ids, ",")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for range 20 { // warm the caches
				get(c.path)
			}
			times := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				get(c.path)
				times = append(times, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			q := func(p float64) float64 { return float64(times[int(p*float64(len(times)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
		})
	}
}
