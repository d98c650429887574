package perf

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// Progress is one second of the whole run (all sources merged), for live display.
type Progress struct {
	Index     int
	Elapsed   time.Duration
	Total     time.Duration
	Warmup    bool
	Requests  int64
	Failures  int64 // errors and unsuccessful statuses
	RPS       float64
	P50Ms     float64
	P99Ms     float64
	SoFar     int64 // requests since the start, warm-up included
	SendLagMs float64
	// Sources is the second per source (per agent in a distributed run), by name.
	Sources []SourceProgress
}

// SourceProgress is one source's share of a second.
type SourceProgress struct {
	Source   string
	Requests int64
	Failures int64
	RPS      float64
	P50Ms    float64
	P99Ms    float64
}

// Aggregator merges intervals from any number of sources into one series. Merging is
// exact: histograms add, and every percentile comes from a merged histogram. It is a
// loadgen.Sink and safe for concurrent use.
type Aggregator struct {
	mu        sync.Mutex
	sources   map[string]bool
	intervals []smp.Interval
	seen      map[string]bool // source/index already taken: replays are ignored
	pending   map[int]*pendingSecond
	emitted   int
	soFar     int64
	total     time.Duration
	onSecond  func(Progress)
	// cum merges the measured seconds so far, for checks on the run as it goes.
	cum        smp.Interval
	measured   int
	onMeasured func(cum *smp.Interval, seconds int)
}

type pendingSecond struct {
	sources map[string]bool
	iv      smp.Interval
	// bySource keeps each source's figures, read before its histograms are compacted.
	bySource []SourceProgress
}

// NewAggregator expects intervals from the named sources; onSecond (may be nil) is
// called once per second when every source has reported it.
func NewAggregator(sources []string, total time.Duration, onSecond func(Progress)) *Aggregator {
	a := &Aggregator{sources: map[string]bool{}, seen: map[string]bool{}, pending: map[int]*pendingSecond{},
		total: total, onSecond: onSecond}
	for _, s := range sources {
		a.sources[s] = true
	}
	return a
}

// Interval implements loadgen.Sink. An interval already received (same source and
// index) is ignored, so at-least-once delivery cannot count twice.
func (a *Aggregator) Interval(iv *smp.Interval) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := fmt.Sprintf("%s/%d", iv.Source, iv.Index)
	if a.seen[key] {
		return
	}
	a.seen[key] = true
	stored := *iv
	defer compactInterval(&stored) // kept compact: a long run holds thousands
	a.intervals = append(a.intervals, stored)
	if a.onSecond == nil && a.onMeasured == nil {
		return
	}
	p := a.pending[iv.Index]
	if p == nil {
		p = &pendingSecond{sources: map[string]bool{}, iv: smp.Interval{Index: iv.Index, Start: iv.Start, End: iv.End,
			Warmup: iv.Warmup, Latency: smp.NewHistogram(), SendLag: smp.NewHistogram()}}
		a.pending[iv.Index] = p
	}
	p.sources[iv.Source] = true
	sp := SourceProgress{Source: iv.Source, Requests: iv.Requests, Failures: iv.Requests - iv.Successes}
	if iv.Latency != nil {
		sp.P50Ms, sp.P99Ms = float64(iv.Latency.Quantile(50))/1000, float64(iv.Latency.Quantile(99))/1000
	}
	p.bySource = append(p.bySource, sp)
	mergeInto(&p.iv, iv)
	for {
		q := a.pending[a.emitted]
		if q == nil || len(q.sources) < len(a.sources) {
			break
		}
		a.emitLocked(q)
	}
}

// lastSecond is the index of the run's last whole second; later intervals only hold
// stragglers (requests due in the window that completed after it) and are not shown
// live, where their tiny window would read as a bogus rate.
func (a *Aggregator) lastSecond() int {
	return int((a.total+time.Second-1)/time.Second) - 1
}

// OnMeasured sets a function called after each measured second with the merge of all
// measured seconds so far (set it before the run starts).
func (a *Aggregator) OnMeasured(f func(cum *smp.Interval, seconds int)) { a.onMeasured = f }

// Flush reports the seconds still waiting for a source (the run is over).
func (a *Aggregator) Flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	idx := make([]int, 0, len(a.pending))
	for i := range a.pending {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		a.emitLocked(a.pending[i])
	}
}

func (a *Aggregator) emitLocked(p *pendingSecond) {
	delete(a.pending, p.iv.Index)
	a.emitted = p.iv.Index + 1
	a.soFar += p.iv.Requests
	if !p.iv.Warmup && a.onMeasured != nil {
		mergeInto(&a.cum, &p.iv)
		a.measured++
		a.onMeasured(&a.cum, a.measured)
	}
	if p.iv.Index > a.lastSecond() || a.onSecond == nil {
		return
	}
	// The rate is over the second the schedule planned, not the interval's own end:
	// at low rates a shard ends when its last request completes, and that sliver of
	// a second would read as a bogus rate (1 request in 38 ms: "26/s" at 1 req/s).
	secs := min(time.Second, a.total-time.Duration(p.iv.Index)*time.Second).Seconds()
	pr := Progress{
		Index: p.iv.Index, Elapsed: time.Duration(p.iv.Index+1) * time.Second, Total: a.total, Warmup: p.iv.Warmup,
		Requests: p.iv.Requests, Failures: p.iv.Requests - p.iv.Successes, SoFar: a.soFar,
		P50Ms: float64(p.iv.Latency.Quantile(50)) / 1000, P99Ms: float64(p.iv.Latency.Quantile(99)) / 1000,
	}
	if secs > 0 {
		pr.RPS = float64(p.iv.Requests) / secs
	}
	sort.Slice(p.bySource, func(i, j int) bool { return p.bySource[i].Source < p.bySource[j].Source })
	for _, sp := range p.bySource {
		if secs > 0 {
			sp.RPS = float64(sp.Requests) / secs
		}
		pr.Sources = append(pr.Sources, sp)
	}
	if p.iv.SendLag.Count() > 0 {
		pr.SendLagMs = float64(p.iv.SendLag.Quantile(99)) / 1000
	}
	a.onSecond(pr)
}

// Intervals returns the series sorted by second, then source.
func (a *Aggregator) Intervals() []smp.Interval {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]smp.Interval(nil), a.intervals...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Index != out[j].Index {
			return out[i].Index < out[j].Index
		}
		return out[i].Source < out[j].Source
	})
	return out
}

func compactInterval(iv *smp.Interval) {
	iv.Latency.Compact()
	iv.SendLag.Compact()
	iv.GeneratorLag.Compact()
	iv.SchedLatency.Compact()
}

// mergeInto adds src's counts and histograms to dst.
func mergeInto(dst *smp.Interval, src *smp.Interval) {
	dst.Requests += src.Requests
	dst.Successes += src.Successes
	dst.BytesSent += src.BytesSent
	dst.BytesReceived += src.BytesReceived
	dst.MissedSends += src.MissedSends
	dst.WaitedForConnection += src.WaitedForConnection
	dst.CPUSeconds += src.CPUSeconds
	dst.StatusCodes = addCounts(dst.StatusCodes, src.StatusCodes)
	dst.Errors = addCounts(dst.Errors, src.Errors)
	if src.Latency != nil {
		if dst.Latency == nil {
			dst.Latency = smp.NewHistogram()
		}
		dst.Latency.Merge(src.Latency)
	}
	if src.SendLag != nil {
		if dst.SendLag == nil {
			dst.SendLag = smp.NewHistogram()
		}
		dst.SendLag.Merge(src.SendLag)
	}
	if src.GeneratorLag != nil {
		if dst.GeneratorLag == nil {
			dst.GeneratorLag = smp.NewHistogram()
		}
		dst.GeneratorLag.Merge(src.GeneratorLag)
	}
}

func addCounts(dst, src map[string]int64) map[string]int64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]int64, len(src))
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}
