package sampleapp

import (
	"runtime"
	"sync"
	"time"

	"github.com/meshperf/meshperf/internal/procstat"
	"github.com/meshperf/meshperf/smp"
)

// processSeconds keeps, per whole second, the CPU this process used and how long its
// runnable goroutines waited for a CPU. A request waits for the target's process before
// it is read and after its response is written, outside the service time the handler
// measures; on a busy core that queueing can be most of a client's latency, and only
// the process can tell it. (A target started inside another program, as tests do,
// counts that program's CPU too.)
type processSeconds struct {
	mu   sync.Mutex
	secs map[int64]processSecond
	stop chan struct{}
	done chan struct{}
}

type processSecond struct {
	cpu   float64
	sched *smp.Histogram // compacted
}

// ProcessView is the target process over the seconds asked for.
type ProcessView struct {
	Seconds     int     `json:"seconds"`      // whole seconds measured in the window
	CPUCores    float64 `json:"cpu_cores"`    // average cores used
	UsableCores int     `json:"usable_cores"` // GOMAXPROCS
	// SchedLatency is the HDR histogram (µs) of how long its goroutines waited for a CPU.
	SchedLatency *smp.Histogram `json:"sched_latency"`
}

func startProcessSeconds() *processSeconds {
	p := &processSeconds{secs: map[int64]processSecond{}, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *processSeconds) run() {
	defer close(p.done)
	cpu, sched := procstat.CPUSeconds(), procstat.ReadSched()
	t := time.NewTimer(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		t.Reset(time.Until(now.Truncate(time.Second).Add(time.Second)))
		c, s := procstat.CPUSeconds(), procstat.ReadSched()
		h := s.HistogramSince(sched)
		h.Compact()
		sec := now.Unix() - 1 // the second that just ended
		p.mu.Lock()
		p.secs[sec] = processSecond{cpu: c - cpu, sched: h}
		delete(p.secs, sec-int64(serviceViewKeep/time.Second))
		p.mu.Unlock()
		cpu, sched = c, s
	}
}

func (p *processSeconds) close() {
	close(p.stop)
	<-p.done
}

// view merges the seconds in [from, to); nil when none was measured.
func (p *processSeconds) view(from, to int64) *ProcessView {
	v := &ProcessView{UsableCores: runtime.GOMAXPROCS(0), SchedLatency: smp.NewHistogram()}
	var cpu float64
	p.mu.Lock()
	for s, ps := range p.secs {
		if s >= from && s < to {
			v.Seconds++
			cpu += ps.cpu
			v.SchedLatency.Merge(ps.sched)
		}
	}
	p.mu.Unlock()
	if v.Seconds == 0 {
		return nil
	}
	v.CPUCores = cpu / float64(v.Seconds)
	return v
}
