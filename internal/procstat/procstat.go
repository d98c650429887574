// Package procstat reads what this process spent: its CPU time and how long its
// runnable goroutines waited for a CPU. A generator reports them beside its
// intervals; meshperf's target beside its service times, so that a process's own
// queueing (outside any request timing) is seen on both sides.
package procstat

import (
	"math"
	"runtime/metrics"
	"syscall"

	"github.com/meshperf/meshperf/smp"
)

// CPUSeconds is the user and system CPU time this process used so far.
func CPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// schedLatencyMetric is the Go runtime's distribution of how long runnable goroutines
// waited for a CPU. A process starved of CPU shows it directly: its work then starts
// late *and* its reads happen late, which no timing taken on the requests can tell
// from a slow peer.
const schedLatencyMetric = "/sched/latencies:seconds"

// Sched is a snapshot of the runtime's scheduling latencies since the process began.
type Sched struct {
	counts  []uint64
	buckets []float64
}

// ReadSched takes a snapshot.
func ReadSched() Sched {
	s := []metrics.Sample{{Name: schedLatencyMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return Sched{}
	}
	h := s[0].Value.Float64Histogram()
	return Sched{counts: append([]uint64(nil), h.Counts...), buckets: h.Buckets}
}

// HistogramSince turns the scheduling latencies between an earlier snapshot and this
// one into a histogram in µs (each bucket's upper bound), so that processes' and
// intervals' latencies merge exactly.
func (s Sched) HistogramSince(before Sched) *smp.Histogram {
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
