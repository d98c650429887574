package perf

import (
	"fmt"
	"strings"

	"github.com/meshperf/meshperf/smp"
)

// Units of a metric's value.
const (
	UnitMs    = "ms"    // a latency in milliseconds
	UnitRatio = "ratio" // 0..1, shown as a percentage
	UnitRate  = "req/s"
	UnitCount = "count"
)

// Which direction of a metric is an improvement.
const (
	LowerIsBetter  = "lower"
	HigherIsBetter = "higher"
)

// Metric is one figure meshperf reports, defined once for thresholds, the gate,
// comparisons, trends and the API.
type Metric struct {
	Name   string
	Unit   string
	Better string
	// FromSummary reads the figure of a whole run.
	FromSummary func(s *smp.Summary) float64
	// FromInterval reads the figure of one interval (a second); false when the
	// interval has no value for it (no latencies, no requests).
	FromInterval func(iv *smp.Interval) (float64, bool)
}

func latencyMetric(name string, p float64) Metric {
	return Metric{Name: name, Unit: UnitMs, Better: LowerIsBetter,
		FromSummary: func(s *smp.Summary) float64 { v, _ := s.Latency.Percentile(p); return v },
		FromInterval: func(iv *smp.Interval) (float64, bool) {
			if iv.Latency == nil || iv.Latency.Count() == 0 {
				return 0, false
			}
			return float64(iv.Latency.Quantile(p)) / 1000, true
		}}
}

func histogramMetric(name string, get func(h *smp.Histogram) float64, fromSummary func(s *smp.Summary) float64) Metric {
	return Metric{Name: name, Unit: UnitMs, Better: LowerIsBetter, FromSummary: fromSummary,
		FromInterval: func(iv *smp.Interval) (float64, bool) {
			if iv.Latency == nil || iv.Latency.Count() == 0 {
				return 0, false
			}
			return get(iv.Latency) / 1000, true
		}}
}

func intervalSeconds(iv *smp.Interval) float64 { return iv.End.Sub(iv.Start).Seconds() }

// metricRegistry is every metric, in the order listings show them.
var metricRegistry = []Metric{
	latencyMetric("p50", 50), latencyMetric("p75", 75), latencyMetric("p90", 90), latencyMetric("p95", 95),
	latencyMetric("p99", 99), latencyMetric("p99.9", 99.9), latencyMetric("p99.99", 99.99),
	latencyMetric("median", 50), latencyMetric("min", 0), latencyMetric("max", 100),
	histogramMetric("mean", (*smp.Histogram).Mean, func(s *smp.Summary) float64 { return s.Latency.MeanMs }),
	histogramMetric("stddev", (*smp.Histogram).StdDev, func(s *smp.Summary) float64 { return s.Latency.StdDevMs }),
	{Name: "rps", Unit: UnitRate, Better: HigherIsBetter,
		FromSummary: func(s *smp.Summary) float64 { return s.ActualRPS },
		FromInterval: func(iv *smp.Interval) (float64, bool) {
			if intervalSeconds(iv) <= 0 {
				return 0, false
			}
			return float64(iv.Requests) / intervalSeconds(iv), true
		}},
	{Name: "error_rate", Unit: UnitRatio, Better: LowerIsBetter,
		FromSummary: func(s *smp.Summary) float64 { return s.ErrorRate },
		FromInterval: func(iv *smp.Interval) (float64, bool) {
			if iv.Requests == 0 {
				return 0, false
			}
			return float64(iv.Requests-iv.Successes) / float64(iv.Requests), true
		}},
	{Name: "requests", Unit: UnitCount, Better: HigherIsBetter,
		FromSummary:  func(s *smp.Summary) float64 { return float64(s.Requests) },
		FromInterval: func(iv *smp.Interval) (float64, bool) { return float64(iv.Requests), true }},
}

// Metrics returns every known metric.
func Metrics() []Metric { return append([]Metric(nil), metricRegistry...) }

// MetricNames lists the known metrics' names.
func MetricNames() []string {
	out := make([]string, len(metricRegistry))
	for i, m := range metricRegistry {
		out[i] = m.Name
	}
	return out
}

// LookupMetric finds a metric by name (case-insensitive); an unknown name gets one
// error listing the known ones.
func LookupMetric(name string) (Metric, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, m := range metricRegistry {
		if m.Name == n {
			return m, nil
		}
	}
	return Metric{}, fmt.Errorf("unknown metric %q (one of %s)", name, strings.Join(MetricNames(), ", "))
}

// mustMetrics resolves names known to be registered (package tables).
func mustMetrics(names ...string) []Metric {
	out := make([]Metric, len(names))
	for i, n := range names {
		m, err := LookupMetric(n)
		if err != nil {
			panic(err)
		}
		out[i] = m
	}
	return out
}
