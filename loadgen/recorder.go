package loadgen

import (
	"runtime"
	"sync"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// codeSlots covers HTTP status codes and gRPC codes; the last slot holds any other.
const codeSlots = 600

// maxShards bounds the tallies a collector keeps, whatever the number of workers.
const maxShards = 16

// A shard is one tally of a collector, shared by the workers whose index falls on it.
// A live HDR histogram takes ~190 KB, so tallies are per shard, never per worker:
// memory stays the same for 8 or 10,000 connections, and closing a second merges a
// handful of histograms instead of three per connection (which, on one CPU, stalled
// every worker's reads for tens of milliseconds each second).
//
// cur holds second curIdx, next anything later (requests that completed after a
// boundary but before the collector closed the second); spare is the bucket the
// collector swaps in, so it merges the closed second outside the lock.
type shard struct {
	mu        sync.Mutex
	curIdx    int
	cur, next *bucket
	spare     *bucket
	sent      int64 // every request that left, for missed-send accounting
	closed    bool  // the collector finished: late records are dropped
}

type bucket struct {
	requests, successes  int64
	bytesSent, bytesRecv int64
	waited               int64
	codes                [codeSlots]int64
	errs                 [numErrClasses]int64
	lat, lag, genLag     *smp.Histogram
}

// newBucket allocates its histograms up front: allocating ~190 KB in the middle of a
// request (as lazily made lag histograms did) starts GC cycles on the hot path. The
// lag histograms exist only for paced load.
func newBucket(paced bool) *bucket {
	b := &bucket{lat: smp.NewHistogram()}
	if paced {
		b.lag, b.genLag = smp.NewHistogram(), smp.NewHistogram()
	}
	return b
}

func (b *bucket) reset() {
	lat, lag, gen := b.lat, b.lag, b.genLag
	for _, h := range []*smp.Histogram{lat, lag, gen} {
		if h != nil {
			h.Reset()
		}
	}
	*b = bucket{lat: lat, lag: lag, genLag: gen}
}

// shardCount is the number of tallies for a process: one per CPU the Go scheduler
// uses, so workers running at once rarely meet on one lock (a lock is held for a few
// histogram records), and memory stays small (one CPU: one tally, ~1.7 MB).
func shardCount() int {
	return min(max(runtime.GOMAXPROCS(0), 1), maxShards)
}

// Recorder is one worker's handle on its collector's tallies: a few words, whatever
// the number of workers.
type Recorder struct {
	sh    *shard
	open  bool
	start time.Time
	stall *stallClock
}

// Record tallies one request. intended is when it was due (zero when unpaced), sent
// when it left and done when it finished. ownLag is how late it left with a connection
// free (its timer woke late, it was starved of CPU); negative when the engine cannot
// tell. heldBack is the part of its wait for a busy connection that the connection's
// previous response spent waiting to be read. It returns how long this response may
// have waited to be read (see stallClock), the next request's heldBack.
//
// In the open model latency runs from the intended instant, so time a request waited
// for a busy connection counts (coordinated omission corrected), but the generator's
// lateness in sending does not. Otherwise latency runs from when the request left.
// Read delays stay in the latency — no client can tell exactly when a response
// arrived, and a guess could put the latency below the target's own service time —
// but they are the generator's: they add to generator lag, which decides whether the
// run is flagged saturated, and the wait they caused is not counted as waiting for a
// connection.
func (r *Recorder) Record(intended, sent, done time.Time, ownLag, heldBack time.Duration, o Outcome) (readDelay time.Duration) {
	sh := r.sh
	if o.Skip {
		sh.mu.Lock()
		sh.sent++
		sh.mu.Unlock()
		return 0
	}
	paced := !intended.IsZero()
	var lag, genLag time.Duration
	latency := done.Sub(sent)
	if paced {
		lag = max(sent.Sub(intended), 0)
		ownLag = min(ownLag, lag)
		heldBack = min(max(heldBack, 0), lag-max(ownLag, 0))
		if ownLag >= 0 {
			readDelay = r.stall.readDelay(sent, done)
			genLag = ownLag + heldBack + readDelay
		}
		if r.open {
			latency = done.Sub(intended) - max(ownLag, 0)
		}
	}
	idx := int(done.Sub(r.start) / time.Second)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return readDelay
	}
	b := sh.cur
	if idx > sh.curIdx {
		b = sh.next
	}
	sh.sent++
	b.requests++
	if o.Err != NoErr {
		b.errs[o.Err]++
	} else {
		code := o.Code
		if code < 0 || code >= codeSlots-1 {
			code = codeSlots - 1
		}
		b.codes[code]++
		if o.OK {
			b.successes++
		}
	}
	b.bytesSent += o.BytesSent
	b.bytesRecv += o.BytesReceived
	b.lat.Record(latency)
	if paced && b.lag != nil {
		b.lag.Record(lag)
		if ownLag >= 0 {
			b.genLag.Record(genLag)
			if lag-ownLag-heldBack > waitedThreshold {
				b.waited++
			}
		}
	}
	return readDelay
}

// rotate closes the shard's current second: it returns the bucket holding it, which
// the caller merges without the lock and hands back with recycle.
func (sh *shard) rotate() *bucket {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.cur
	sh.cur, sh.next, sh.spare = sh.next, sh.spare, nil
	sh.curIdx++
	return b
}

func (sh *shard) recycle(b *bucket) {
	b.reset()
	sh.mu.Lock()
	sh.spare = b
	sh.mu.Unlock()
}
