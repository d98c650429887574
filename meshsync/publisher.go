package meshsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
)

// ackWindow is how many publishes may await their acks at once: enough to keep the
// connection busy during a 50k-object snapshot, small enough to bound memory.
const ackWindow = 2048

// sizeLimit leaves room for headers under the stream's message size.
const sizeLimit = bus.MeshSyncMaxMsgSize - 4096

// publisher numbers one process's events (Seq from 1, no holes), publishes them to
// JetStream pipelined with a Nats-Msg-Id each, and awaits every ack in order,
// retrying a failed publish under the same id (JetStream stores it once).
type publisher struct {
	js      jetstream.JetStream
	subject string
	cluster string
	boot    string
	log     *slog.Logger
	onError func(error)

	mu      sync.Mutex // orders numbering with publishing
	seq     uint64
	pending chan pendingPub

	ackMu sync.Mutex
	acked uint64
	ackCh chan struct{} // closed and replaced whenever acked moves
}

type pendingPub struct {
	msg *nats.Msg
	seq uint64
	fut jetstream.PubAckFuture
}

func newPublisher(js jetstream.JetStream, cluster, boot string, log *slog.Logger, onError func(error)) (*publisher, error) {
	subject, err := bus.MeshSyncEvents(cluster)
	if err != nil {
		return nil, err
	}
	return &publisher{js: js, subject: subject, cluster: cluster, boot: boot, log: log, onError: onError,
		pending: make(chan pendingPub, ackWindow), ackCh: make(chan struct{})}, nil
}

// encode builds one event's envelope; an event too big for the stream loses its
// object (and then its annotations), flagged Truncated.
func (p *publisher) encode(seq uint64, ev *bus.MeshSyncEvent) ([]byte, error) {
	env := &bus.Envelope{Kind: bus.KindMeshSyncEvent, Sender: p.cluster, Boot: p.boot, Seq: seq,
		Sent: time.Now().UTC(), MeshSyncEvent: ev}
	data, err := bus.Encode(env)
	if err != nil || len(data) <= sizeLimit || ev.Object == nil {
		return data, err
	}
	o := *ev.Object
	o.Object, o.Truncated = nil, true
	env.MeshSyncEvent = &bus.MeshSyncEvent{Cluster: ev.Cluster, Type: ev.Type, Snapshot: ev.Snapshot, Object: &o}
	if data, err = bus.Encode(env); err != nil || len(data) <= sizeLimit {
		return data, err
	}
	o.Annotations = nil
	return bus.Encode(env)
}

// send numbers and publishes ev; it blocks while ackWindow publishes await acks.
func (p *publisher) send(ctx context.Context, ev *bus.MeshSyncEvent) error {
	ev.Cluster = p.cluster
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	seq := p.seq + 1
	data, err := p.encode(seq, ev)
	if err != nil {
		return fmt.Errorf("encoding a %s event: %w", ev.Type, err)
	}
	msg := nats.NewMsg(p.subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, bus.MeshSyncMsgID(p.boot, seq))
	fut, err := p.js.PublishMsgAsync(msg)
	if err != nil {
		// Not sent at all: the ack loop publishes it again, in order.
		fut = nil
	}
	p.seq = seq
	select {
	case p.pending <- pendingPub{msg: msg, seq: seq, fut: fut}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ackLoop awaits acks in order until ctx ends; a failed publish is retried (same
// message id) until it is stored, so the sequence keeps no holes.
func (p *publisher) ackLoop(ctx context.Context) {
	for {
		var pp pendingPub
		select {
		case pp = <-p.pending:
		case <-ctx.Done():
			return
		}
		err := errors.New("not published")
		if pp.fut != nil {
			select {
			case <-pp.fut.Ok():
				err = nil
			case err = <-pp.fut.Err():
			case <-ctx.Done():
				return
			}
		}
		for backoff := 100 * time.Millisecond; err != nil; backoff = min(2*backoff, 5*time.Second) {
			if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
				err = fmt.Errorf("%w (does the broker have the %s stream?)", err, bus.MeshSyncStream)
			}
			p.onError(fmt.Errorf("publishing event %d: %w", pp.seq, err))
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err = p.js.PublishMsg(pctx, pp.msg)
			cancel()
		}
		p.ackMu.Lock()
		p.acked = pp.seq
		close(p.ackCh)
		p.ackCh = make(chan struct{})
		p.ackMu.Unlock()
	}
}

// flush waits until every event sent so far is stored in the stream.
func (p *publisher) flush(ctx context.Context) error {
	p.mu.Lock()
	target := p.seq
	p.mu.Unlock()
	for {
		p.ackMu.Lock()
		done, ch := p.acked >= target, p.ackCh
		p.ackMu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// sent is the last sequence number given.
func (p *publisher) sent() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}
