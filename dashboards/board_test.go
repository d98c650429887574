package dashboards

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/smp"
)

// measured holds three real results: short local runs against the sample application,
// each with a different latency and error rate, run one after another (so they have
// different windows and the board must shift them).
var measured struct {
	once    sync.Once
	results []*smp.Result
	err     error
}

func realResults(t *testing.T) []*smp.Result {
	t.Helper()
	measured.once.Do(func() {
		srv, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
		if err != nil {
			measured.err = err
			return
		}
		defer srv.Close()
		for i, query := range []string{"latency=1ms", "latency=4ms&error_rate=0.2", "latency=8ms&error_rate=0.05"} {
			cfg := &smp.TestConfig{Name: "run-" + strconv.Itoa(i+1), Duration: smp.Duration(2 * time.Second),
				Clients: []smp.Client{{RPS: 40, Connections: 4, EndpointURLs: []string{srv.URL() + "/echo?" + query}}}}
			cfg.ApplyDefaults()
			r, err := perf.Run(context.Background(), cfg, perf.Options{Version: "test"})
			if err != nil {
				measured.err = err
				return
			}
			measured.results = append(measured.results, r)
		}
	})
	if measured.err != nil {
		t.Fatal(measured.err)
	}
	return measured.results
}

// boardJSON is the part of Grafana's model the tests read back.
type boardJSON struct {
	SchemaVersion int    `json:"schemaVersion"`
	UID           string `json:"uid"`
	Time          struct{ From, To string }
	Panels        []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		GridPos    struct{ X, Y, W, H int }
		Datasource struct{ Type, UID string }
		Targets    []struct {
			RefID      string `json:"refId"`
			Alias      string `json:"alias"`
			CsvContent string `json:"csvContent"`
			Expr       string `json:"expr"`
			Legend     string `json:"legendFormat"`
		} `json:"targets"`
	} `json:"panels"`
	Annotations struct {
		List []struct {
			Name   string
			Target struct {
				CsvContent string `json:"csvContent"`
			}
		}
	}
}

func decodeBoard(t *testing.T, raw []byte) boardJSON {
	t.Helper()
	var b boardJSON
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("csv %q: %v", s, err)
	}
	return rows
}

func TestBoardsCompareOneTwoThreeRealResults(t *testing.T) {
	results := realResults(t)
	for n := 1; n <= len(results); n++ {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			rs := results[:n]
			b, err := Build(rs, Options{PrometheusDatasource: "prom-uid"})
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(b.JSON); err != nil {
				t.Fatalf("generated board does not validate: %v", err)
			}
			got := decodeBoard(t, b.JSON)
			if got.SchemaVersion < MinSchemaVersion || got.UID != b.UID {
				t.Fatalf("schemaVersion %d uid %q", got.SchemaVersion, got.UID)
			}
			var legacy map[string]any
			_ = json.Unmarshal(b.JSON, &legacy)
			for _, f := range []string{"rows", "snapshot"} {
				if _, ok := legacy[f]; ok {
					t.Errorf("legacy field %q written", f)
				}
			}
			last := rs[0].MeasureStart
			for _, r := range rs {
				if r.MeasureStart.After(last) {
					last = r.MeasureStart
				}
			}

			// Every run's measured seconds are on every per-run panel, shifted onto
			// the last run's window, with the figures of its merged histograms.
			promQueries := 0
			for _, p := range got.Panels {
				if p.GridPos.X+p.GridPos.W > GridColumns || p.GridPos.W == 0 {
					t.Errorf("panel %q: gridPos %+v", p.Title, p.GridPos)
				}
				if len(p.Targets) != n {
					t.Fatalf("panel %q has %d targets for %d results", p.Title, len(p.Targets), n)
				}
				for i, tg := range p.Targets {
					r := rs[i]
					shift := last.Sub(r.MeasureStart).Truncate(time.Millisecond)
					if p.Datasource.Type == prometheusType {
						promQueries++
						if _, err := ParsePromQL(tg.Expr); err != nil {
							t.Errorf("panel %q query %q: %v", p.Title, tg.Expr, err)
						}
						if shift > 0 && !strings.Contains(tg.Expr, "offset ") {
							t.Errorf("panel %q: result %d is %s earlier but its query %q has no offset", p.Title, i, shift, tg.Expr)
						}
						continue
					}
					checkSeries(t, p.Title, r, shift, readCSV(t, tg.CsvContent))
				}
			}
			if want := n * len(DefaultResourceQueries); promQueries != want {
				t.Errorf("%d PromQL queries, want %d", promQueries, want)
			}

			// One annotation per run, over its measured window as drawn.
			if len(got.Annotations.List) != n {
				t.Fatalf("%d annotations for %d runs", len(got.Annotations.List), n)
			}
			for i, a := range got.Annotations.List {
				r := rs[i]
				shift := last.Sub(r.MeasureStart).Truncate(time.Millisecond)
				rows := readCSV(t, a.Target.CsvContent)
				if len(rows) != 2 || rows[0][0] != "time" || rows[0][1] != "timeEnd" {
					t.Fatalf("annotation %d: %q", i, rows)
				}
				if rows[1][0] != epochMillis(r.MeasureStart.Add(shift)) || rows[1][1] != epochMillis(r.EndTime.Add(shift)) {
					t.Errorf("annotation %d spans %s..%s, want the run's window %s..%s shifted by %s", i, rows[1][0], rows[1][1],
						r.MeasureStart.Format(time.RFC3339Nano), r.EndTime.Format(time.RFC3339Nano), shift)
				}
				if !strings.Contains(rows[1][2], r.MeasureStart.UTC().Format(time.RFC3339)) {
					t.Errorf("annotation %d text %q does not give the real start", i, rows[1][2])
				}
				if b.Windows[i].Start != r.MeasureStart || b.Windows[i].End != r.EndTime {
					t.Errorf("window %d: %+v", i, b.Windows[i])
				}
			}
			// The board's range covers every run as drawn, to the millisecond that
			// Grafana's times and PromQL offsets carry (a shift is a whole number of
			// milliseconds, so a shifted window may start up to 1 ms off).
			from, err1 := time.Parse(time.RFC3339, got.Time.From)
			to, err2 := time.Parse(time.RFC3339, got.Time.To)
			if err1 != nil || err2 != nil {
				t.Fatalf("time %+v", got.Time)
			}
			for _, w := range b.Windows {
				if w.ShownStart.Add(time.Millisecond).Before(from) || w.ShownEnd.After(to.Add(time.Millisecond)) {
					t.Errorf("window %+v outside the board's range %s..%s", w, from, to)
				}
			}
		})
	}
}

// checkSeries compares a panel's CSV with the result's intervals, recomputed here.
func checkSeries(t *testing.T, title string, r *smp.Result, shift time.Duration, rows [][]string) {
	t.Helper()
	if len(rows) < 2 || rows[0][0] != "time" || rows[0][1] != "value" {
		t.Fatalf("panel %q: csv header %q", title, rows[:1])
	}
	bySecond := map[int64][]smp.Interval{}
	for _, iv := range r.Intervals {
		if !iv.Warmup {
			bySecond[int64(iv.Index)] = append(bySecond[int64(iv.Index)], iv)
		}
	}
	if len(rows)-1 > len(bySecond) || len(rows)-1 == 0 {
		t.Fatalf("panel %q: %d points for %d measured seconds", title, len(rows)-1, len(bySecond))
	}
	var totalRequests float64
	for _, row := range rows[1:] {
		ms, _ := strconv.ParseInt(row[0], 10, 64)
		v, err := strconv.ParseFloat(row[1], 64)
		if err != nil {
			t.Fatalf("panel %q: value %q", title, row[1])
		}
		var match []smp.Interval
		for _, ivs := range bySecond {
			end := ivs[0].End
			for _, iv := range ivs {
				if iv.End.After(end) {
					end = iv.End
				}
			}
			if end.Add(shift).UnixMilli() == ms {
				match = ivs
			}
		}
		if match == nil {
			t.Fatalf("panel %q: point at %d ms is no measured second of the run shifted by %s", title, ms, shift)
		}
		h := smp.NewHistogram()
		var req, ok int64
		for _, iv := range match {
			h.Merge(iv.Latency)
			req += iv.Requests
			ok += iv.Successes
		}
		var want float64
		switch title {
		case "Latency p99":
			want = float64(h.Quantile(99)) / 1000
		case "Latency p50":
			want = float64(h.Quantile(50)) / 1000
		case "Error rate":
			want = float64(req-ok) / float64(req)
		case "Request rate":
			totalRequests += v * match[0].End.Sub(match[0].Start).Seconds()
			continue
		default:
			continue
		}
		if v != want {
			t.Errorf("panel %q at %d: %v, want %v", title, ms, v, want)
		}
	}
	if title == "Request rate" {
		if got, want := totalRequests, float64(r.Summary.Requests); got < want*0.99 || got > want*1.01 {
			t.Errorf("request rate adds up to %.1f requests, the summary has %.0f", got, want)
		}
	}
}

func TestRunsAreShiftedOntoTheLastWindow(t *testing.T) {
	rs := realResults(t)
	b, err := Build(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lastStart := rs[len(rs)-1].MeasureStart
	for i, w := range b.Windows {
		if got := w.Start.Add(w.Shift); got.Sub(lastStart).Abs() >= time.Millisecond {
			t.Errorf("run %d drawn from %s, want %s", i, got, lastStart)
		}
		if i < len(rs)-1 && w.Shift <= 0 {
			t.Errorf("run %d measured before the last one but not shifted", i)
		}
	}
	if b.Windows[len(rs)-1].Shift != 0 {
		t.Errorf("the last run is shifted by %s", b.Windows[len(rs)-1].Shift)
	}
	// Without a Prometheus data source the board holds meshperf's numbers only.
	for _, p := range decodeBoard(t, b.JSON).Panels {
		if p.Datasource.Type != testdataType {
			t.Errorf("panel %q uses %s with no Prometheus given", p.Title, p.Datasource.Type)
		}
	}
}

func TestBuildRefusesBadInput(t *testing.T) {
	rs := realResults(t)
	empty := *rs[0]
	empty.ID = "empty-window"
	empty.EndTime = empty.MeasureStart
	for name, tc := range map[string]struct {
		results []*smp.Result
		opt     Options
		want    string
	}{
		"none":         {nil, Options{}, "at least one result"},
		"twice":        {[]*smp.Result{rs[0], rs[0]}, Options{}, "results[1].id"},
		"nil":          {[]*smp.Result{rs[0], nil}, Options{}, "results[1]: missing"},
		"empty window": {[]*smp.Result{&empty}, Options{}, "results[0]: measured window"},
		"bad promql": {rs[:1], Options{PrometheusDatasource: "p", ResourceQueries: []Query{{Title: "x", Expr: "sum(rate(x[1m]"}}},
			"resource_queries[0].expr"},
		"untitled query": {rs[:1], Options{PrometheusDatasource: "p", ResourceQueries: []Query{{Expr: "up"}}}, "resource_queries[0].title"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Build(tc.results, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestShiftPromQL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		d    time.Duration
		want string
	}{
		{`up`, 0, `up`},
		{`sum(rate(x{a="b"}[1m]))`, 90 * time.Second, `sum(rate(x{a="b"}[1m] offset 1m30s))`},
		{`a offset 1m + b`, time.Minute, `a offset 2m + b offset 1m`},
		// A subquery moves as a whole: its inner selectors follow it.
		{`max_over_time(rate(x[1m])[5m:1m])`, time.Hour, `max_over_time(rate(x[1m])[5m:1m] offset 1h)`},
	} {
		got, err := shiftPromQL(tc.in, tc.d)
		if err != nil || got != tc.want {
			t.Errorf("shift(%q, %s) = %q, %v; want %q", tc.in, tc.d, got, err, tc.want)
		}
	}
	if _, err := shiftPromQL(`x @ 1700000000`, time.Minute); err == nil || !strings.Contains(err.Error(), "@") {
		t.Errorf("@ query shifted: %v", err)
	}
}
