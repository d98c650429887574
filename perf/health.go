package perf

import (
	"runtime"
	"sync"
	"time"

	"github.com/meshperf/meshperf/internal/procstat"
	"github.com/meshperf/meshperf/loadgen"
	"github.com/meshperf/meshperf/smp"
)

// healthStamper gives every interval the CPU time and scheduling latencies this
// process spent since the interval before it, and the cores it may use. Each span is
// stamped once, whichever source's interval carries it, so a generator's intervals sum
// to its whole usage and travel with the intervals wherever they go (agents, store).
type healthStamper struct {
	mu    sync.Mutex
	name  string
	cpu   float64
	sched procstat.Sched
	next  loadgen.Sink
	// rebase moves the baseline to the schedule's start.
	rebase *time.Timer
}

// newHealthStamper measures from start (the schedule's start, when the run's wall
// clock starts too): what an agent spends waiting for the agreed instant is not part
// of the run.
func newHealthStamper(name string, start time.Time, next loadgen.Sink) *healthStamper {
	h := &healthStamper{name: name, cpu: procstat.CPUSeconds(), sched: procstat.ReadSched(), next: next}
	if wait := time.Until(start); wait > 0 {
		h.rebase = time.AfterFunc(wait, func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.cpu, h.sched = procstat.CPUSeconds(), procstat.ReadSched()
		})
	}
	return h
}

// stop ends the wait for the start (a run cancelled before it).
func (h *healthStamper) stop() {
	if h.rebase != nil {
		h.rebase.Stop()
	}
}

func (h *healthStamper) Interval(iv *smp.Interval) {
	cp := *iv
	h.mu.Lock()
	cpu, sched := procstat.CPUSeconds(), procstat.ReadSched()
	cp.Generator = h.name
	cp.CPUSeconds = max(cpu-h.cpu, 0)
	cp.SchedLatency = sched.HistogramSince(h.sched)
	cp.UsableCores = runtime.GOMAXPROCS(0)
	h.cpu, h.sched = cpu, sched
	h.mu.Unlock()
	h.next.Interval(&cp)
}
