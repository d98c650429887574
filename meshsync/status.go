package meshsync

import (
	"context"
	"time"

	"github.com/meshperf/meshperf/bus"
)

func (d *discoverer) noteError(key string, err error) {
	msg := err.Error()
	if key != "" {
		msg = key + ": " + msg
	}
	d.mu.Lock()
	changed := d.lastErr != msg
	d.lastErr, d.lastErrAt = msg, time.Now().UTC()
	d.mu.Unlock()
	if changed {
		d.log.Warn("meshsync", "error", msg)
		d.statusChanged()
	}
}

func (d *discoverer) statusChanged() {
	select {
	case d.statusDue <- struct{}{}:
	default:
	}
}

// statusLoop sends a status event every StatusEvery and soon after a change (at most
// one a second).
func (d *discoverer) statusLoop(ctx context.Context) {
	tick := time.NewTicker(StatusEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-d.statusDue:
			select {
			case <-time.After(time.Second): // gathers a burst of changes into one status
			case <-ctx.Done():
				return
			}
		case <-ctx.Done():
			return
		}
		_ = d.pub.send(ctx, &bus.MeshSyncEvent{Type: bus.EventStatus, Status: d.status()})
	}
}

func (d *discoverer) status() *bus.MeshSyncStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &bus.MeshSyncStatus{Mode: d.opt.Mode, State: "syncing", Resources: len(d.watchers), LastError: d.lastErr,
		LastErrorAt: d.lastErrAt, StartedAt: d.started, MeshperfVers: d.opt.Version}
	synced := true
	for _, w := range d.watchers {
		s.WatchesOpen += len(w.informers)
		s.Objects += w.objects()
		synced = synced && w.synced.Load()
	}
	if synced && d.initialDone {
		s.State = "watching"
	}
	return s
}
