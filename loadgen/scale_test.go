package loadgen_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshperf/meshperf/loadgen"
	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/smp"
)

// peakMemory samples the heap and goroutine stacks in use until stop is closed.
func peakMemory(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse+m.StackInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// Memory does not grow with connections: 10,000 connections at a low rate stay far
// below what per-connection histograms (two ~190 KB buckets each: 3.8 GB) or eagerly
// made clients (fortio's 128 KB buffer each: 1.3 GB) would take.
func TestMemoryBoundedWithManyConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections")
	}
	srv := startTarget(t, sampleapp.Injection{})
	for _, engine := range []string{"fortio", "vegeta"} {
		t.Run(engine, func(t *testing.T) {
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			stop := make(chan struct{})
			peak := peakMemory(stop)
			c := smp.Client{LoadGenerator: engine, EndpointURLs: []string{srv.URL() + "/"}, Connections: 10000,
				RPS: 200, Model: smp.ModelOpen}
			got := collect(t, context.Background(), c, 2*time.Second)
			close(stop)
			grew := int64(<-peak) - int64(before.HeapInuse+before.StackInuse)
			t.Logf("%s: 10,000 connections, %d requests: heap+stacks grew by %.0f MB at peak", engine, got.Requests, float64(grew)/(1<<20))
			if got.Requests < 300 || got.Successes != got.Requests {
				t.Errorf("%d requests, %d successes; want ~400, all successful", got.Requests, got.Successes)
			}
			const bound = 400 << 20
			if grew > bound {
				t.Errorf("memory grew by %d MB for 10,000 connections; want under %d MB", grew>>20, bound>>20)
			}
		})
	}
}

// A cancel stops a run within a second, whatever its size, even when every request
// is stuck on a target that takes 10 s to answer (longer than the grace, shorter than
// the request timeout).
func TestCancelStopsLargeRunPromptly(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 stalled connections")
	}
	srv := startTarget(t, sampleapp.Injection{})
	for _, engine := range []string{"fortio", "vegeta"} {
		for _, model := range []smp.LoadModel{smp.ModelClosed, smp.ModelOpen} {
			t.Run(engine+"/"+string(model), func(t *testing.T) {
				c := smp.Client{LoadGenerator: engine, EndpointURLs: []string{srv.URL() + "/slow?latency=10s"},
					Connections: 2000, Model: model, Timeout: smp.Duration(30 * time.Second)}
				if model == smp.ModelOpen {
					c.RPS = 4000
				}
				cfg := smp.TestConfig{Clients: []smp.Client{c}, Duration: smp.Duration(time.Minute)}
				cfg.ApplyDefaults()
				if err := cfg.Validate(); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				var intervals atomic.Int64
				sink := loadgen.SinkFunc(func(*smp.Interval) { intervals.Add(1) })
				done := make(chan struct{})
				go func() {
					defer close(done)
					s := &loadgen.Shard{Source: "t", Client: cfg.Clients[0], Duration: time.Minute}
					if err := loadgen.Run(ctx, s, sink); err != nil {
						t.Errorf("run: %v", err)
					}
				}()
				time.Sleep(1500 * time.Millisecond) // every connection is now waiting on the target
				cancelled := time.Now()
				cancel()
				select {
				case <-done:
					t.Logf("stopped %v after the cancel", time.Since(cancelled).Round(time.Millisecond))
				case <-time.After(time.Second):
					<-done
					t.Errorf("run stopped %v after the cancel; want within 1s", time.Since(cancelled).Round(time.Millisecond))
				}
			})
		}
	}
}

// Bytes are counted as on the wire for fortio's HTTP/1.1 client: what the target read
// and wrote, request lines and headers included, for GET and POST.
func TestFortioBytesMatchTarget(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
	}{{"GET", ""}, {"POST", "hello, target"}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTarget(t, sampleapp.Injection{ResponseBytes: 100})
			c := smp.Client{LoadGenerator: "fortio", EndpointURLs: []string{srv.URL() + "/bytes?x=1"}, Connections: 4,
				RPS: 200, Model: smp.ModelClosed, Body: tc.body, Headers: map[string]string{"X-Test": "yes"}}
			got := collect(t, context.Background(), c, time.Second)
			in, out := srv.WireBytes()
			t.Logf("%s: %d requests, sent %d B (target read %d B), received %d B (target wrote %d B)",
				tc.name, got.Requests, got.BytesSent, in, got.BytesReceived, out)
			if got.Requests == 0 || got.BytesSent != in || got.BytesReceived != out {
				t.Errorf("counted sent %d received %d; the target read %d and wrote %d", got.BytesSent, got.BytesReceived, in, out)
			}
		})
	}
}
