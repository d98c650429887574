package loadgen

import (
	"context"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// Sink receives each interval as it closes. Calls come from one goroutine per shard;
// a sink shared by several shards must be safe for concurrent use.
type Sink interface {
	Interval(iv *smp.Interval)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(iv *smp.Interval)

// Interval implements Sink.
func (f SinkFunc) Interval(iv *smp.Interval) { f(iv) }

// waitedThreshold: a request that waited longer than this for a free connection counts
// in WaitedForConnection.
const waitedThreshold = time.Millisecond

// Collector turns the records of a shard's workers into one interval per second.
// Workers record into a few shared tallies (see shard), spread so that the hot path
// rarely contends and memory does not grow with the number of workers.
type Collector struct {
	shard    *Shard
	sink     Sink
	sched    Schedule
	codeName func(int) string
	open     bool

	// stall measures the generator's own lost time (paced loads only).
	stall *stallClock

	mu     sync.Mutex
	shards []*shard
	nrecs  int
	next   int // index of the interval being filled
	cpu    float64
	stop   chan struct{}
	ticker sync.WaitGroup
}

// NewCollector prepares a collector for a shard.
func NewCollector(s *Shard, sink Sink) *Collector {
	c := &Collector{
		shard: s,
		sink:  sink,
		open:  s.Client.Model == smp.ModelOpen,
		stop:  make(chan struct{}),
	}
	if sch := s.Schedule(); sch != nil {
		c.sched = sch
	}
	for range shardCount() {
		paced := c.sched != nil
		c.shards = append(c.shards, &shard{cur: newBucket(paced), next: newBucket(paced), spare: newBucket(paced)})
	}
	switch s.Client.Protocol {
	case smp.ProtocolGRPC:
		c.codeName = grpcCodeName
	case smp.ProtocolTCP:
		c.codeName = func(int) string { return "OK" }
	default:
		c.codeName = strconv.Itoa
	}
	return c
}

// Begin starts closing an interval at every whole second after the shard's start.
func (c *Collector) Begin(ctx context.Context) {
	c.cpu = processCPUSeconds()
	if c.sched != nil {
		c.stall = startStallClock()
	}
	c.ticker.Add(1)
	go func() {
		defer c.ticker.Done()
		t := time.NewTimer(time.Until(c.boundary(1)))
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			c.mu.Lock()
			c.emitLocked(c.boundary(c.next+1), 0, false)
			c.mu.Unlock()
			t.Reset(time.Until(c.boundary(c.next + 1)))
		}
	}()
}

func (c *Collector) boundary(i int) time.Time {
	return c.shard.Start.Add(time.Duration(i) * time.Second)
}

// NewRecorder gives a worker its handle on the collector's tallies.
func (c *Collector) NewRecorder() *Recorder {
	c.mu.Lock()
	sh := c.shards[c.nrecs%len(c.shards)]
	c.nrecs++
	c.mu.Unlock()
	return &Recorder{sh: sh, open: c.open, start: c.shard.Start, stall: c.stall}
}

// Finish closes the last interval(s), counting the requests that were due but never
// left. After a cancel, slots due in the last endGrace are not counted: their workers
// were still waking for them.
func (c *Collector) Finish() {
	close(c.stop)
	c.ticker.Wait()
	c.stall.close()
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var missed int64
	var spill bool
	var sent int64
	for _, sh := range c.shards {
		sh.mu.Lock()
		sent += sh.sent
		spill = spill || sh.next.requests > 0
		sh.mu.Unlock()
	}
	if c.sched != nil {
		elapsed := now.Sub(c.shard.Start)
		due := c.sched.Due(c.shard.Total())
		if elapsed < c.shard.Total() {
			due = c.sched.Due(elapsed - endGrace)
		}
		missed = max(due-sent, 0)
	}
	if spill {
		// Some requests completed after the current second's boundary.
		c.emitLocked(minTime(now, c.boundary(c.next+1)), 0, false)
	}
	c.emitLocked(now, missed, true)
	for _, sh := range c.shards {
		sh.mu.Lock()
		sh.closed = true // a worker still finishing after a cancel records nothing
		sh.mu.Unlock()
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// emitLocked closes interval c.next at end. A final interval with nothing in it is
// dropped (the run ended on a boundary).
func (c *Collector) emitLocked(end time.Time, missed int64, final bool) {
	start := c.boundary(c.next)
	if end.Before(start) {
		end = start
	}
	iv := &smp.Interval{
		Source:       c.shard.Source,
		Index:        c.next,
		Start:        start,
		End:          end,
		Warmup:       time.Duration(c.next)*time.Second < c.shard.Warmup,
		Latency:      smp.NewHistogram(),
		SendLag:      smp.NewHistogram(),
		GeneratorLag: smp.NewHistogram(),
		MissedSends:  missed,
	}
	var codes [codeSlots]int64
	var errs [numErrClasses]int64
	for _, sh := range c.shards {
		b := sh.rotate()
		iv.Requests += b.requests
		iv.Successes += b.successes
		iv.BytesSent += b.bytesSent
		iv.BytesReceived += b.bytesRecv
		iv.WaitedForConnection += b.waited
		for i, n := range b.codes {
			codes[i] += n
		}
		for i, n := range b.errs {
			errs[i] += n
		}
		iv.Latency.Merge(b.lat)
		iv.SendLag.Merge(b.lag)
		iv.GeneratorLag.Merge(b.genLag)
		sh.recycle(b)
	}
	for code, n := range codes {
		if n == 0 {
			continue
		}
		if iv.StatusCodes == nil {
			iv.StatusCodes = map[string]int64{}
		}
		name := "other"
		if code < codeSlots-1 {
			name = c.codeName(code)
		}
		iv.StatusCodes[name] += n
	}
	for cls, n := range errs {
		if n == 0 {
			continue
		}
		if iv.Errors == nil {
			iv.Errors = map[string]int64{}
		}
		iv.Errors[ErrClass(cls).String()] += n
	}
	if iv.SendLag.Count() == 0 {
		iv.SendLag = nil
	}
	if iv.GeneratorLag.Count() == 0 {
		iv.GeneratorLag = nil
	}
	cpu := processCPUSeconds()
	iv.CPUSeconds = cpu - c.cpu
	c.cpu = cpu
	c.next++
	if final && iv.Requests == 0 && iv.MissedSends == 0 && len(iv.Errors) == 0 {
		return
	}
	c.sink.Interval(iv)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
