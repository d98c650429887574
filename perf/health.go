package perf

import (
	"runtime"
	"sync"

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
	sched schedSnapshot
	next  loadgen.Sink
}

func newHealthStamper(name string, next loadgen.Sink) *healthStamper {
	return &healthStamper{name: name, cpu: processCPU(), sched: readSchedLatency(), next: next}
}

func (h *healthStamper) Interval(iv *smp.Interval) {
	cp := *iv
	h.mu.Lock()
	cpu, sched := processCPU(), readSchedLatency()
	cp.Generator = h.name
	cp.CPUSeconds = max(cpu-h.cpu, 0)
	cp.SchedLatency = sched.histogramSince(h.sched)
	cp.UsableCores = runtime.GOMAXPROCS(0)
	h.cpu, h.sched = cpu, sched
	h.mu.Unlock()
	h.next.Interval(&cp)
}
