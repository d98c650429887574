package perf

import (
	"math"
	"runtime/metrics"

	"github.com/meshperf/meshperf/smp"
)

// schedLatencyMetric is the Go runtime's distribution of how long runnable goroutines
// waited for a CPU. A generator starved of CPU shows it directly: its requests then
// leave late *and* are read late, which no timing taken on the requests themselves can
// tell from a slow target.
const schedLatencyMetric = "/sched/latencies:seconds"

type schedSnapshot struct {
	counts  []uint64
	buckets []float64
}

func readSchedLatency() schedSnapshot {
	s := []metrics.Sample{{Name: schedLatencyMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return schedSnapshot{}
	}
	h := s[0].Value.Float64Histogram()
	return schedSnapshot{counts: append([]uint64(nil), h.Counts...), buckets: h.Buckets}
}

// quantileSince returns the q-quantile (0..1) of scheduling latency, in milliseconds,
// between an earlier snapshot and this one (the bucket's upper bound), or 0.
func (s schedSnapshot) quantileSince(before schedSnapshot, q float64) float64 {
	if len(s.counts) == 0 || len(before.counts) != len(s.counts) {
		return 0
	}
	var total uint64
	diff := make([]uint64, len(s.counts))
	for i := range s.counts {
		diff[i] = s.counts[i] - before.counts[i]
		total += diff[i]
	}
	if total == 0 {
		return 0
	}
	var acc uint64
	for i, c := range diff {
		acc += c
		if float64(acc) >= q*float64(total) {
			ub := s.buckets[i+1]
			if math.IsInf(ub, 1) {
				ub = s.buckets[i]
			}
			return ub * 1000
		}
	}
	return 0
}

// histogramSince turns the scheduling latencies between an earlier snapshot and this
// one into a histogram in µs (each bucket's upper bound), so that generators' and
// intervals' latencies merge exactly.
func (s schedSnapshot) histogramSince(before schedSnapshot) *smp.Histogram {
	h := smp.NewHistogram()
	if len(s.counts) == 0 {
		return h
	}
	for i := range s.counts {
		n := s.counts[i]
		if len(before.counts) == len(s.counts) {
			n -= before.counts[i]
		}
		if n == 0 {
			continue
		}
		ub := s.buckets[i+1]
		if math.IsInf(ub, 1) {
			ub = s.buckets[i]
		}
		h.RecordMicrosN(int64(math.Ceil(ub*1e6)), int64(n))
	}
	return h
}
