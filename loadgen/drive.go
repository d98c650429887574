package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// endGrace absorbs timer slop at the end of a schedule, so a slot due just before the
// end is not lost because its worker woke a few milliseconds late.
const endGrace = 100 * time.Millisecond

// Doer performs one request on one connection. Each worker owns one Doer, so a Doer
// needs no locking.
type Doer interface {
	// Do sends request number k (k picks the endpoint in round robin); sent is the
	// instant it leaves, for doers that must tell a timeout from a quick failure.
	Do(ctx context.Context, k int64, sent time.Time) Outcome
	Close()
}

// cancelGrace is how long Drive waits, after a cancel, for workers still inside a
// request: past it Drive returns and those workers finish (within their request
// timeout) on their own, recording nothing. A cancel so stops any run within a second,
// whatever its size or the target's speed.
const cancelGrace = 300 * time.Millisecond

// Drive runs a shard with one worker per connection, each owning a Doer from newDoer.
//
// Paced load (open, or closed at a rate) follows one schedule shared by all workers: a
// free worker takes the next slot and waits for its instant. A slot nobody could take
// on time is still due at its own instant, so in the open model its latency includes
// the wait (coordinated omission corrected) and its send lag shows how late it left.
// Unpaced closed load has each worker send as soon as its previous request finished.
// A slot still untaken endGrace after the schedule's end is abandoned (the backlog of
// a stalled target is not sent after the window) and counted as a missed send.
//
// Doers are made by their worker before its first request (the first one up front, so
// a config the engine cannot use fails the run at once): a worker that never sends
// (10,000 connections at a low rate) costs a goroutine, not a client and its buffers.
func Drive(ctx context.Context, s *Shard, col *Collector, newDoer func(worker int) (Doer, error)) error {
	n := int(s.Client.Connections)
	first, err := newDoer(0)
	if err != nil {
		return fmt.Errorf("setting up connection 0: %w", err)
	}
	p := &pace{ctx: ctx, s: s, sched: s.Schedule(), end: s.Start.Add(s.Total()), n: n, newDoer: newDoer}
	p.lastTake = p.end.Add(endGrace)
	var wg sync.WaitGroup
	for i := range n {
		w := &worker{pace: p, id: i, rec: col.NewRecorder()}
		if i == 0 {
			w.d = first
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run()
		}()
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-ctx.Done():
		select {
		case <-finished:
		case <-time.After(cancelGrace):
		}
	}
	return nil
}

// pace is what a shard's workers share: the schedule and the next slot to take.
type pace struct {
	ctx           context.Context
	s             *Shard
	sched         *RateProfile // nil when unpaced
	end, lastTake time.Time
	n             int
	next          atomic.Int64
	newDoer       func(worker int) (Doer, error)
}

// worker is one connection: its Doer, made once it holds a slot, and its recorder.
type worker struct {
	*pace
	id    int
	d     Doer
	rec   *Recorder
	timer *time.Timer
}

func (w *worker) run() {
	defer func() {
		if w.d != nil {
			w.d.Close() // here, not in Drive: a worker may outlive Drive after a cancel
		}
	}()
	w.timer = time.NewTimer(time.Hour)
	w.timer.Stop()
	defer w.timer.Stop()
	if !w.wait(w.s.Start) {
		return
	}
	freeAt := time.Now()
	var prevRead time.Duration // how long the last response waited to be read
	local := int64(w.id)
	for {
		var intended time.Time
		var k int64
		var derr error
		if w.sched != nil {
			k = w.next.Add(1) - 1
			off, ok := w.sched.Offset(k)
			if !ok {
				return
			}
			intended = w.s.Start.Add(off)
			derr = w.makeDoer() // while the slot is not due yet
			if !w.wait(intended) || time.Now().After(w.lastTake) {
				return
			}
		} else {
			if w.ctx.Err() != nil || !time.Now().Before(w.end) {
				return
			}
			k = local
			local += int64(w.n)
			derr = w.makeDoer()
		}
		if derr != nil {
			// The first doer worked, so this is the machine (files, memory).
			_ = w.rec.Record(intended, time.Now(), time.Now(), 0, 0, Outcome{Err: ClassifyError(derr)})
			freeAt = time.Now()
			continue
		}
		sent := time.Now()
		o := w.d.Do(w.ctx, k, sent)
		done := time.Now()
		if w.ctx.Err() != nil && o.Err != NoErr {
			o.Skip = true // cut short by cancellation, not the target's doing
		}
		var own, held time.Duration
		if w.sched != nil {
			own = sent.Sub(later(intended, freeAt))
			if freeAt.After(intended) {
				held = min(prevRead, freeAt.Sub(intended))
			}
		}
		prevRead = w.rec.Record(intended, sent, done, own, held, o)
		freeAt = done
	}
}

// wait sleeps until the instant, reporting false if the run was cancelled.
func (w *worker) wait(until time.Time) bool {
	dt := time.Until(until)
	if dt <= 0 {
		return w.ctx.Err() == nil
	}
	w.timer.Reset(dt)
	select {
	case <-w.ctx.Done():
		return false
	case <-w.timer.C:
		return true
	}
}

func (w *worker) makeDoer() error {
	if w.d != nil {
		return nil
	}
	d, err := w.newDoer(w.id)
	if err == nil {
		w.d = d
	}
	return err
}
