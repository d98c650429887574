package main

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

const (
	naiveSubject = "bench.naive.objects"
	naiveDone    = "bench.naive.done"
)

// runNaive is the peer MeshSync is measured against: the way discovery is commonly
// written (and the way Meshery's MeshSync ran until 2026) — one full-object informer
// per kind, nothing trimmed, every object published whole. Its publishes are
// pipelined like MeshSync's, so the comparison is of what is cached and shipped.
func runNaive(cfg *rest.Config, url, ns, group string) error {
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
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, ns, nil)
	var published atomic.Int64
	var failed atomic.Value
	publish := func(obj any) {
		b, err := json.Marshal(obj)
		if err == nil {
			_, err = js.PublishAsync(naiveSubject, b)
		}
		if err != nil {
			failed.Store(err)
			return
		}
		published.Add(1)
	}
	var regs []cache.ResourceEventHandlerRegistration
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "pods"}, {Version: "v1", Resource: "services"}, {Version: "v1", Resource: "configmaps"},
		{Group: group, Version: "v1", Resource: "items"},
	} {
		reg, err := factory.ForResource(gvr).Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: publish, UpdateFunc: func(_, obj any) { publish(obj) }, DeleteFunc: publish,
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
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
	}
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	if err := nc.Publish(naiveDone, []byte(strconv.FormatInt(published.Load(), 10))); err != nil {
		return err
	}
	_ = nc.Flush()
	<-ctx.Done() // until the driver stops it (after reading its RSS)
	return nil
}
