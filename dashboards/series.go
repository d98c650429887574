package dashboards

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// second is one second of a run, every source merged: histograms are added and the
// percentiles read from the sum, never averaged across sources.
type second struct {
	end                time.Time
	seconds            float64
	requests, failures int64
	p50, p90, p99      float64 // milliseconds
}

// run is one result as the board shows it: its measured seconds and where they are
// drawn. Shift moves the run onto the board's common time axis (0 for the run that
// started last), so runs made hours apart overlay each other.
type run struct {
	result  *smp.Result
	label   string
	start   time.Time // measured window, as it happened
	end     time.Time
	shift   time.Duration
	seconds []second
}

// measuredSeconds merges a result's measured (non-warm-up) intervals by second. One
// merged histogram is alive at a time: a live one weighs ~190 KB.
func measuredSeconds(r *smp.Result) []second {
	byIndex := map[int][]*smp.Interval{}
	for i := range r.Intervals {
		if iv := &r.Intervals[i]; !iv.Warmup {
			byIndex[iv.Index] = append(byIndex[iv.Index], iv)
		}
	}
	indexes := make([]int, 0, len(byIndex))
	for i := range byIndex {
		indexes = append(indexes, i)
	}
	sort.Ints(indexes)
	out := make([]second, 0, len(indexes))
	for _, i := range indexes {
		group := byIndex[i]
		start, end := group[0].Start, group[0].End
		var s second
		latency := group[0].Latency
		if len(group) > 1 {
			latency = smp.NewHistogram()
		}
		for _, iv := range group {
			if iv.Start.Before(start) {
				start = iv.Start
			}
			if iv.End.After(end) {
				end = iv.End
			}
			s.requests += iv.Requests
			s.failures += iv.Requests - iv.Successes
			if len(group) > 1 {
				latency.Merge(iv.Latency)
			}
		}
		s.end, s.seconds = end, end.Sub(start).Seconds()
		if latency != nil && latency.Count() > 0 {
			s.p50 = micros(latency.Quantile(50))
			s.p90 = micros(latency.Quantile(90))
			s.p99 = micros(latency.Quantile(99))
		}
		out = append(out, s)
	}
	return out
}

func micros(us int64) float64 { return float64(us) / 1000 }

// runsOf checks the results and places them on one time axis: the run whose measured
// window started last is drawn where it happened, every earlier one shifted forward.
func runsOf(results []*smp.Result) ([]run, error) {
	if len(results) == 0 {
		return nil, fmt.Errorf("results: at least one result is needed")
	}
	runs := make([]run, len(results))
	var base time.Time
	seen := map[string]bool{}
	for i, r := range results {
		if r == nil {
			return nil, fmt.Errorf("results[%d]: missing", i)
		}
		if r.ID == "" {
			return nil, fmt.Errorf("results[%d].id: empty", i)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("results[%d].id: %s is given twice", i, r.ID)
		}
		seen[r.ID] = true
		start := r.MeasureStart
		if start.IsZero() {
			start = r.StartTime
		}
		if start.IsZero() || r.EndTime.IsZero() || !r.EndTime.After(start) {
			return nil, fmt.Errorf("results[%d]: measured window %s..%s is empty", i,
				start.UTC().Format(time.RFC3339), r.EndTime.UTC().Format(time.RFC3339))
		}
		runs[i] = run{result: r, label: label(r), start: start, end: r.EndTime, seconds: measuredSeconds(r)}
		if start.After(base) {
			base = start
		}
	}
	for i := range runs {
		// Whole milliseconds: Grafana's times and PromQL offsets both count in them.
		runs[i].shift = base.Sub(runs[i].start).Truncate(time.Millisecond)
	}
	return runs, nil
}

// label names a result in legends: its name and short id (names repeat across runs).
func label(r *smp.Result) string {
	id := r.ID
	if len(id) > 8 {
		id = id[:8]
	}
	name := strings.TrimSpace(r.Name)
	if name == "" && r.Config != nil {
		name = strings.TrimSpace(r.Config.Name)
	}
	if name == "" {
		return id
	}
	return name + " (" + id + ")"
}
