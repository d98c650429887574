package loadgen

import (
	"os"
	"sync/atomic"
	"time"
)

// A stallClock tells how long a response that just arrived may have waited for the
// generator to read it.
//
// A response that reached the socket while the generator was starved of CPU (a pod's
// CPU limit, other processes on the core, a busy P, garbage collection) waits to be
// read, and its connection looks busy meanwhile. No timing taken on the request can
// tell that from a slow target, so a probe does: every probeEvery a timer fires and
// passes a byte through a pipe to a reader blocked on it through the same network
// poller as the connections. When a worker finishes a request, the probe's state says
// whether the process was stalled just before: the timer is overdue (timers were not
// run), the byte is unread (the poller was not run), or a stall the probe measured
// ended a moment ago. Only a stall adjoining the read counts — the process losing time
// while the request was still at the target delayed nothing.
type stallClock struct {
	lastTick atomic.Int64 // unix ns the writer last ran
	pending  atomic.Int64 // unix ns the byte in flight was written; 0 once read
	stallEnd atomic.Int64 // unix ns the last measured stall ended
	stallLen atomic.Int64 // its length, ns

	stop chan struct{}
}

const (
	probeEvery = time.Millisecond
	// stallTolerance is ordinary timer and poller latency on a busy machine, not charged.
	stallTolerance = time.Millisecond
)

// startStallClock starts the probe; it returns nil (no attribution) if no pipe can be made.
func startStallClock() *stallClock {
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	c := &stallClock{stop: make(chan struct{})}
	c.lastTick.Store(time.Now().UnixNano())
	go func() { // reader: how long a ready descriptor waited for this process
		defer r.Close()
		buf := make([]byte, 64)
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
			now := time.Now().UnixNano()
			if ws := c.pending.Swap(0); ws != 0 {
				c.stalled(now, time.Duration(now-ws))
			}
		}
	}()
	go func() { // writer: how late a timer fired
		defer w.Close()
		t := time.NewTicker(probeEvery)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
			now := time.Now().UnixNano()
			c.stalled(now, time.Duration(now-c.lastTick.Load())-probeEvery)
			c.lastTick.Store(now)
			if c.pending.CompareAndSwap(0, now) {
				if _, err := w.Write([]byte{0}); err != nil {
					return
				}
			}
		}
	}()
	return c
}

func (c *stallClock) stalled(end int64, d time.Duration) {
	if d > stallTolerance {
		c.stallLen.Store(int64(d))
		c.stallEnd.Store(end)
	}
}

// close stops the probe without waiting for it: its goroutines end within a tick,
// and a finishing run (a cancel must return promptly) has nothing to wait for.
func (c *stallClock) close() {
	if c == nil {
		return
	}
	close(c.stop)
}

// readDelay is how long a response read at done (the request left at sent) may have
// waited for the generator, at most done - sent.
func (c *stallClock) readDelay(sent, done time.Time) time.Duration {
	if c == nil || !done.After(sent) {
		return 0
	}
	now := done.UnixNano()
	d := time.Duration(now-c.lastTick.Load()) - probeEvery // the timer is overdue
	if ws := c.pending.Load(); ws != 0 {
		d = max(d, time.Duration(now-ws)) // the poller has not read the probe's byte
	}
	if end := c.stallEnd.Load(); now-end <= int64(2*probeEvery) && end > sent.UnixNano() {
		d = max(d, time.Duration(c.stallLen.Load())) // a stall just ended, in the request's flight
	}
	if d <= stallTolerance {
		return 0
	}
	return min(d, done.Sub(sent))
}
