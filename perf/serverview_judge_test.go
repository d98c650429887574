package perf

import (
	"strings"
	"testing"

	"github.com/meshperf/meshperf/smp"
)

// The warning puts the excess on the generator only when the target's process was not
// busy itself; a busy target process queues requests outside its service time.
func TestJudgeServerViewNamesABusyTargetProcess(t *testing.T) {
	view := func(client float64, p *smp.TargetProcess) smp.ServerView {
		return smp.ServerView{Endpoint: "http://t/", ServiceTime: smp.LatencySummary{P99Ms: 0.05}, ClientP99Ms: client,
			NetworkMs: 1.2, TargetProcess: p}
	}
	for name, c := range map[string]struct {
		v    smp.ServerView
		want string
	}{
		"within the network":   {view(1.0, nil), ""},
		"target tells nothing": {view(10, nil), "the excess is the generator's or the network's, not the target's"},
		"target idle":          {view(10, &smp.TargetProcess{CPUCores: 0.1, UsableCores: 1, SchedLatencyP99Ms: 0.2}), "not the target's"},
		"target's CPU busy":    {view(10, &smp.TargetProcess{CPUCores: 0.65, UsableCores: 1, SchedLatencyP99Ms: 0.3}), "the target's process was busy too (0.65 of its 1 cores"},
		"target queued":        {view(10, &smp.TargetProcess{CPUCores: 0.2, UsableCores: 4, SchedLatencyP99Ms: 3.5}), "waited up to 3.50 ms (p99)"},
	} {
		judgeServerView(&c.v)
		if c.want == "" && c.v.Warning != "" || !strings.Contains(c.v.Warning, c.want) {
			t.Errorf("%s: warning %q; want %q", name, c.v.Warning, c.want)
		}
	}
}
