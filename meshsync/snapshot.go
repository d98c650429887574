package meshsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshperf/meshperf/bus"
)

// initialSnapshot waits (bounded) for every resource's first listing, then sends the
// start snapshot of those listed.
func (d *discoverer) initialSnapshot(ctx context.Context) {
	wctx, cancel := context.WithTimeout(ctx, initialSyncWait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
wait:
	for !d.allSynced() {
		select {
		case <-tick.C:
		case <-wctx.Done():
			if ctx.Err() != nil {
				return
			}
			d.noteError("", errors.New("some resources were not listed in time; each gets a snapshot when it is"))
			break wait
		}
	}
	d.mu.Lock()
	d.initialDone = true
	d.mu.Unlock()
	d.snapshot(ctx, snapshotRequest{reason: "start"})
}

func (d *discoverer) allSynced() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.watchers {
		if !w.synced.Load() && !w.gone.Load() {
			return false
		}
	}
	return true
}

func (d *discoverer) requestSnapshot(r snapshotRequest) {
	select {
	case d.snapshots <- r:
	case <-d.ctx.Done():
	}
}

// snapshotLoop takes snapshots one at a time, so they never interleave.
func (d *discoverer) snapshotLoop(ctx context.Context) {
	for {
		select {
		case r := <-d.snapshots:
			d.snapshot(ctx, r)
		case <-ctx.Done():
			return
		}
	}
}

// snapshot sends a start marker, every object of the resources asked for (each
// resource's cache listed while none of its events go out), and an end marker with
// the count, then waits until the stream holds all of it.
func (d *discoverer) snapshot(ctx context.Context, r snapshotRequest) {
	var ws []*watcher
	d.mu.Lock()
	if r.keys == nil && r.gone == nil {
		for _, w := range d.watchers {
			if w.synced.Load() {
				ws = append(ws, w)
			}
		}
	}
	for _, k := range r.keys {
		if w := d.watchers[k]; w != nil && w.synced.Load() {
			ws = append(ws, w)
		}
	}
	slices.SortFunc(ws, func(a, b *watcher) int { return strings.Compare(a.res.key(), b.res.key()) })
	d.snapN++
	id := fmt.Sprintf("%s-%d", d.pub.boot, d.snapN)
	d.mu.Unlock()
	keys := append([]string(nil), r.gone...)
	for _, w := range ws {
		keys = append(keys, w.res.key())
	}
	if len(keys) == 0 {
		return
	}
	begin := time.Now()
	if err := d.pub.send(ctx, &bus.MeshSyncEvent{Type: bus.EventSnapshotStart, Snapshot: id, Resources: keys, Reason: r.reason}); err != nil {
		return
	}
	count := 0
	for _, w := range ws {
		w.mu.Lock()
		for _, obj := range w.listAll() {
			if o := objectOf(w.res, obj); o != nil {
				if err := d.pub.send(ctx, &bus.MeshSyncEvent{Type: bus.EventAdded, Snapshot: id, Object: o}); err != nil {
					w.mu.Unlock()
					return
				}
				count++
			}
		}
		w.mu.Unlock()
	}
	if err := d.pub.send(ctx, &bus.MeshSyncEvent{Type: bus.EventSnapshotEnd, Snapshot: id, Resources: keys, Count: count, Reason: r.reason}); err != nil {
		return
	}
	if err := d.pub.flush(ctx); err != nil {
		return
	}
	d.log.Info("meshsync: snapshot published", "snapshot", id, "reason", r.reason, "resources", len(keys),
		"objects", count, "took", time.Since(begin).Round(time.Millisecond))
}
