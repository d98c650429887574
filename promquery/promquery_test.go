package promquery_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/internal/promtest"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/promquery"
	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/smp"
)

// The step keeps every series within Prometheus's 11,000 points, never goes below the
// minimum, and is the smallest that does (a millisecond less would pass the limit).
func TestStepKeepsPointsUnderLimit(t *testing.T) {
	for _, w := range []time.Duration{time.Second, 10 * time.Second, time.Hour, 15*time.Hour + 16*time.Minute + 40*time.Second,
		15*time.Hour + 16*time.Minute + 41*time.Second, 24 * time.Hour, 30 * 24 * time.Hour, 365 * 24 * time.Hour} {
		for _, min := range []time.Duration{time.Second, promquery.DefaultStep} {
			s := promquery.Step(w, min)
			if s < min || promquery.Points(w, s) > promquery.MaxPoints {
				t.Errorf("window %v, min %v: step %v gives %d points", w, min, s, promquery.Points(w, s))
			}
			if s > min && promquery.Points(w, s-time.Millisecond) <= promquery.MaxPoints {
				t.Errorf("window %v: step %v is larger than needed", w, s)
			}
		}
	}
}

// A real Prometheus accepts the chosen step over 30 days, and refuses a step just
// below the one the limit needs: the limit is Prometheus's, not ours.
func TestStepAcceptedByPrometheus(t *testing.T) {
	prom := promtest.Start(t)
	end := time.Now().Truncate(time.Second)
	start := end.Add(-30 * 24 * time.Hour)
	res := promquery.Collect(context.Background(), promquery.Source{Name: "test", URL: prom.URL},
		&smp.MetricsConfig{Step: smp.Duration(time.Second), Queries: []smp.MetricQuery{{Name: "one", Query: "vector(1)"}}}, "", start, end)
	q := res.Queries[0]
	if q.Status != smp.MetricsOK || len(q.Series) != 1 {
		t.Fatalf("30 days at step %v: %+v", res.Step, q)
	}
	if n := len(q.Series[0].Points); n > promquery.MaxPoints || n < promquery.MaxPoints-2 {
		t.Errorf("%d points at step %v", n, res.Step)
	}
	small := res.Step.D() - time.Second
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/query_range?query=vector(1)&start=%d&end=%d&step=%g", prom.URL, start.Unix(), end.Unix(), small.Seconds()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "11,000") {
		t.Errorf("a step of %v was not refused: %d %s", small, resp.StatusCode, body)
	}
}

// A run against meshperf target while a real Prometheus scrapes it: the target's
// request counter captured over the measured window matches what the target itself
// counted, within what scraping can miss. The counter's last point is the last scrape
// at or before the window's end, so it can lack at most the requests answered during
// one scrape interval (rate × interval) plus those in flight at the end (one per
// connection); the first point is 0 (the target is fresh and no request precedes the
// window).
func TestCollectMatchesTargetCounts(t *testing.T) {
	tgt, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	prom := promtest.Start(t, promtest.Target{Job: "target", Addr: strings.TrimPrefix(tgt.URL(), "http://")})
	prom.WaitFor(t, `up{job="target"}`, "job", 20*time.Second, func(m map[string]float64) bool { return m["target"] == 1 })

	const rps, conns = 100, 4
	cfg := &smp.TestConfig{Duration: smp.Duration(4 * time.Second), Clients: []smp.Client{{RPS: rps, Connections: conns, EndpointURLs: []string{tgt.URL() + "/w"}}},
		Metrics: &smp.MetricsConfig{Step: smp.Duration(promtest.ScrapeInterval), Queries: []smp.MetricQuery{
			{Name: "target_requests", Query: `sum(meshperf_target_requests_total{path="/w"})`, Unit: "requests"},
			{Name: "target_rate", Query: `sum(rate(meshperf_target_requests_total{path="/w"}[$rate]))`, Unit: "requests/s"},
			{Name: "absent", Query: `sum(no_such_metric_here)`},
			// The target's own process stands in for a proxy: the resource summary reads
			// any query with a role.
			{Name: "target_cpu", Query: `sum(rate(process_cpu_seconds_total{job="target"}[$rate]))`, Unit: "cores", Role: smp.RoleProxyCPU},
		}}}
	cfg.ApplyDefaults()
	res, err := perf.Run(context.Background(), cfg, perf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	promquery.Attach(context.Background(), &promquery.Source{Name: "test", URL: prom.URL}, cfg, res, "")
	own := tgt.Stats().ByPath["/w"]
	m := res.Metrics
	if m == nil || len(m.Queries) != 4 || m.Step.D() != promtest.ScrapeInterval {
		t.Fatalf("metrics: %+v", m)
	}
	counter := m.Queries[0]
	if counter.Status != smp.MetricsOK || len(counter.Series) != 1 {
		t.Fatalf("the counter: %+v", counter)
	}
	pts := counter.Series[0].Points
	if len(pts) > promquery.Points(m.End.Sub(m.Start), m.Step.D()) {
		t.Errorf("%d points, more than the window holds", len(pts))
	}
	first, last := 0.0, pts[len(pts)-1][1]
	if time.Unix(int64(pts[0][0]), 0).Before(m.Start.Add(-time.Second)) {
		t.Errorf("a point before the window: %v < %v", pts[0][0], m.Start)
	}
	if pts[0][0] == float64(m.Start.Unix()) || pts[0][0] == float64(m.Start.UnixMilli())/1000 {
		first = pts[0][1]
	}
	captured := int64(last - first)
	tolerance := int64(rps*promtest.ScrapeInterval.Seconds()) + conns
	t.Logf("target counted %d, the run sent %d, Prometheus captured %d (tolerance %d), %d points at step %v",
		own, res.Summary.Requests, captured, tolerance, len(pts), m.Step)
	if captured > own || own-captured > tolerance {
		t.Errorf("captured %d requests, the target counted %d: off by more than %d", captured, own, tolerance)
	}
	if rate := m.Queries[1]; rate.Status != smp.MetricsOK || len(rate.Series) != 1 {
		t.Errorf("the rate: %+v", rate)
	}
	if absent := m.Queries[2]; absent.Status != smp.MetricsMissing || !strings.Contains(absent.Reason, "no series") {
		t.Errorf("a query without series: %+v", absent)
	}
	if res.Status != smp.StatusCompleted {
		t.Errorf("run status %s", res.Status)
	}
	rs := m.Resources()
	if len(rs) != 1 || rs[0].Status != smp.MetricsOK || rs[0].Points == 0 || rs[0].Mean <= 0 || rs[0].Max < rs[0].Mean {
		t.Errorf("the target's CPU as a resource figure: %+v", rs)
	}
}

// A Prometheus that is down: every query is recorded missing with the reason, a warning
// says so, and the run's own status is untouched.
func TestPrometheusDownMarksMissing(t *testing.T) {
	prom := promtest.Start(t)
	prom.Stop()
	tgt, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	cfg := &smp.TestConfig{Duration: smp.Duration(time.Second), Clients: []smp.Client{{RPS: 20, EndpointURLs: []string{tgt.URL() + "/d"}}},
		Metrics: &smp.MetricsConfig{Mesh: "istio", Namespace: "demo"}}
	cfg.ApplyDefaults()
	res, err := perf.Run(context.Background(), cfg, perf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	promquery.Attach(context.Background(), &promquery.Source{Name: "down", URL: prom.URL}, cfg, res, "")
	if res.Status != smp.StatusCompleted {
		t.Errorf("the run became %s", res.Status)
	}
	if res.Metrics == nil || len(res.Metrics.Queries) != 5 {
		t.Fatalf("metrics: %+v", res.Metrics)
	}
	for _, q := range res.Metrics.Queries {
		if q.Status != smp.MetricsMissing || !strings.Contains(q.Reason, "did not answer") {
			t.Errorf("%s: %s %q", q.Name, q.Status, q.Reason)
		}
	}
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[len(res.Warnings)-1], "5 of 5 queries missing") {
		t.Errorf("warnings: %v", res.Warnings)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("a Prometheus that is down held the result for %v", took)
	}
}

// Bad PromQL and other mistakes are refused at validation, each naming its field.
func TestBadPromQLRefusedNamingTheField(t *testing.T) {
	cfg := &smp.TestConfig{Duration: smp.Duration(time.Second), Clients: []smp.Client{{RPS: 1, EndpointURLs: []string{"http://127.0.0.1:1/"}}},
		Metrics: &smp.MetricsConfig{Mesh: "consul", Step: smp.Duration(time.Nanosecond), Queries: []smp.MetricQuery{
			{Name: "ok", Query: `sum(rate(x{namespace="$namespace"}[$rate]))`},
			{Name: "broken", Query: `sum(rate(x[5m])`},
			{Name: "ok", Query: `up`},
			{Name: "r", Query: `up`, Role: "gpu"},
		}}}
	cfg.ApplyDefaults()
	err := perf.Validate(cfg)
	var fe smp.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("not field errors: %v", err)
	}
	got := map[string]string{}
	for _, f := range fe {
		got[f.Path] = f.Msg
	}
	for _, want := range []string{"metrics.queries[1].query", "metrics.queries[2].name", "metrics.queries[3].role", "metrics.mesh", "metrics.step"} {
		if got[want] == "" {
			t.Errorf("no error for %s: %v", want, err)
		}
	}
	if _, bad := got["metrics.queries[0].query"]; bad {
		t.Errorf("a good query with placeholders refused: %s", got["metrics.queries[0].query"])
	}
	if !strings.Contains(got["metrics.queries[1].query"], "PromQL") {
		t.Errorf("the PromQL error: %q", got["metrics.queries[1].query"])
	}
}

// Every mesh's default queries parse, with and without a namespace, and select on it.
func TestMeshDefaultsParse(t *testing.T) {
	for _, mesh := range promquery.Meshes {
		for _, ns := range []string{"", "bookinfo"} {
			m := &smp.MetricsConfig{Mesh: mesh, Namespace: ns}
			var errs smp.FieldErrors
			promquery.Check(m, &errs)
			if len(errs) > 0 {
				t.Errorf("%s: %v", mesh, errs)
			}
			qs := promquery.Queries(m, "", promquery.DefaultStep)
			roles := 0
			for _, q := range qs {
				if strings.Contains(q.Query, "$") {
					t.Errorf("%s %s: a placeholder left: %s", mesh, q.Name, q.Query)
				}
				if q.Role != "" {
					roles++
				}
				if ns != "" && strings.HasPrefix(q.Name, "proxy") && !strings.Contains(q.Query, `namespace="bookinfo"`) {
					t.Errorf("%s %s ignores the namespace: %s", mesh, q.Name, q.Query)
				}
			}
			if roles != 4 {
				t.Errorf("%s: %d resource queries, want 4", mesh, roles)
			}
		}
	}
}
