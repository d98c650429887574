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
	sched := s.Schedule()
	end := s.Start.Add(s.Total())
	lastTake := end.Add(endGrace)
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		rec := col.NewRecorder()
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			var d Doer
			if worker == 0 {
				d = first
			}
			defer func() {
				if d != nil {
					d.Close() // here, not in Drive: a worker may outlive Drive after a cancel
				}
			}()
			timer := time.NewTimer(time.Hour)
			timer.Stop()
			defer timer.Stop()
			wait := func(until time.Time) bool {
				dt := time.Until(until)
				if dt <= 0 {
					return ctx.Err() == nil
				}
				timer.Reset(dt)
				select {
				case <-ctx.Done():
					return false
				case <-timer.C:
					return true
				}
			}
			if !wait(s.Start) {
				return
			}
			// A worker makes its Doer once it has a slot to send, not before.
			makeDoer := func() error {
				if d != nil {
					return nil
				}
				nd, err := newDoer(worker)
				if err == nil {
					d = nd
				}
				return err
			}
			var derr error
			freeAt := time.Now()
			var prevRead time.Duration // how long the last response waited to be read
			local := int64(worker)
			for {
				var intended time.Time
				var k int64
				if sched != nil {
					k = next.Add(1) - 1
					off, ok := sched.Offset(k)
					if !ok {
						return
					}
					intended = s.Start.Add(off)
					derr = makeDoer() // while the slot is not due yet
					if !wait(intended) {
						return
					}
					if time.Now().After(lastTake) {
						return
					}
				} else {
					if ctx.Err() != nil || !time.Now().Before(end) {
						return
					}
					k = local
					local += int64(n)
					derr = makeDoer()
				}
				if derr != nil {
					// The first doer worked, so this is the machine (files, memory).
					_ = rec.Record(intended, time.Now(), time.Now(), 0, 0, Outcome{Err: ClassifyError(derr)})
					freeAt = time.Now()
					continue
				}
				sent := time.Now()
				o := d.Do(ctx, k, sent)
				done := time.Now()
				if ctx.Err() != nil && o.Err != NoErr {
					o.Skip = true // cut short by cancellation, not the target's doing
				}
				var own, held time.Duration
				if sched != nil {
					own = sent.Sub(later(intended, freeAt))
					if freeAt.After(intended) {
						held = min(prevRead, freeAt.Sub(intended))
					}
				}
				prevRead = rec.Record(intended, sent, done, own, held, o)
				freeAt = done
			}
		}(i)
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
