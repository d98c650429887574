package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/meshperf/meshperf/bus"
)

// runNaive is the peer MeshSync is measured against: the way discovery is commonly
// written (and the way Meshery's MeshSync ran until 2026) — one full-object informer
// per kind, nothing trimmed, every object published whole. It speaks MeshSync's
// protocol (envelopes with a sequence, one snapshot around the initial listing) so
// the same inventory stores what it finds; its publishes are pipelined like
// MeshSync's, so the comparison is of what is cached, shipped and stored.
func runNaive(cfg *rest.Config, url, cluster, ns, group string) error {
	ctx := context.Background()
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	subject, err := bus.MeshSyncEvents(cluster)
	if err != nil {
		return err
	}
	gvrs := []schema.GroupVersionResource{
		{Version: "v1", Resource: "pods"}, {Version: "v1", Resource: "services"}, {Version: "v1", Resource: "configmaps"},
		{Group: group, Version: "v1", Resource: "items"},
	}
	var resources []string
	for _, g := range gvrs {
		resources = append(resources, bus.ResourceKey(g.Group, g.Version, g.Resource))
	}
	const snapshot = "naive-start"
	boot := bus.NewBoot()
	// Handlers of different informers run concurrently: the lock keeps the sequence
	// in publish order, as the consumer requires.
	var mu sync.Mutex
	var seq uint64
	var listed int
	var failed error
	publish := func(ev *bus.MeshSyncEvent) {
		mu.Lock()
		defer mu.Unlock()
		seq++
		ev.Cluster = cluster
		data, err := bus.Encode(&bus.Envelope{Kind: bus.KindMeshSyncEvent, Sender: cluster, Boot: boot, Seq: seq,
			Sent: time.Now().UTC(), MeshSyncEvent: ev})
		if err == nil {
			msg := nats.NewMsg(subject)
			msg.Data = data
			msg.Header.Set(jetstream.MsgIDHeader, bus.MeshSyncMsgID(boot, seq))
			// Wait for room rather than drop an object when the broker falls
			// behind (MeshSync's publisher resends instead).
			_, err = js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute))
		}
		if err != nil && failed == nil {
			failed = err
		}
	}
	publish(&bus.MeshSyncEvent{Type: bus.EventSnapshotStart, Snapshot: snapshot, Resources: resources, Reason: "start"})
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, ns, nil)
	var regs []cache.ResourceEventHandlerRegistration
	for _, gvr := range gvrs {
		object := func(typ string, inSnapshot bool) func(any) {
			return func(obj any) {
				u, ok := obj.(*unstructured.Unstructured)
				if !ok { // a tombstone: nothing whole to publish
					return
				}
				o, err := wholeObject(gvr, u)
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				ev := &bus.MeshSyncEvent{Type: typ, Object: o}
				if inSnapshot {
					ev.Snapshot = snapshot
					mu.Lock()
					listed++
					mu.Unlock()
				}
				publish(ev)
			}
		}
		reg, err := factory.ForResource(gvr).Informer().AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			AddFunc:    func(obj any, initial bool) { object(bus.EventAdded, initial)(obj) },
			UpdateFunc: func(_, obj any) { object(bus.EventModified, false)(obj) },
			DeleteFunc: object(bus.EventDeleted, false),
		})
		if err != nil {
			return err
		}
		regs = append(regs, reg)
	}
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	for _, reg := range regs {
		for !reg.HasSynced() {
			time.Sleep(20 * time.Millisecond)
		}
	}
	mu.Lock()
	n := listed
	mu.Unlock()
	publish(&bus.MeshSyncEvent{Type: bus.EventSnapshotEnd, Snapshot: snapshot, Resources: resources, Count: n})
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("naive: publishes not acknowledged within 5 minutes")
	}
	mu.Lock()
	err = failed
	mu.Unlock()
	if err != nil {
		return err
	}
	<-ctx.Done() // until the driver stops it (after reading its RSS)
	return nil
}

// wholeObject is the object as the naive discoverer ships it: everything, managed
// fields and last-applied annotations included.
func wholeObject(gvr schema.GroupVersionResource, u *unstructured.Unstructured) (*bus.MeshSyncObject, error) {
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	o := &bus.MeshSyncObject{Group: gvr.Group, Version: gvr.Version, Resource: gvr.Resource, Kind: u.GetKind(),
		Namespace: u.GetNamespace(), Name: u.GetName(), UID: string(u.GetUID()), ResourceVersion: u.GetResourceVersion(),
		Labels: u.GetLabels(), Annotations: u.GetAnnotations(), Object: raw}
	for _, r := range u.GetOwnerReferences() {
		o.Owners = append(o.Owners, bus.OwnerRef{APIVersion: r.APIVersion, Kind: r.Kind, Name: r.Name, UID: string(r.UID)})
	}
	return o, nil
}
