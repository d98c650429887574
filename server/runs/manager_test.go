package runs_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
	"github.com/meshperf/meshperf/smp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func each(t *testing.T, f func(t *testing.T, kind string)) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) { f(t, kind) })
	}
}

func configJSON(t *testing.T, cfg any) string {
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitStatus polls a run until it reaches a final status or the deadline passes.
func waitStatus(t *testing.T, st *store.Store, id string, within time.Duration) *store.Run {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, err := st.GetRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if store.RunDone(r.Status) || time.Now().After(deadline) {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// More queued runs than any in-memory queue holds must not keep a restarted server
// from starting (10,050 did: Start pushed them all into a 10,000-slot channel before
// the workers ran).
func TestStartWithMoreQueuedRunsThanAnyQueue(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		st := storetest.Open(t, kind)
		rs := make([]store.Run, 10_050)
		for i := range rs {
			rs[i] = store.Run{Status: store.RunQueued, Config: "{}", TriggeredBy: "ed",
				CreatedAt: time.Now().Add(time.Duration(i) * time.Microsecond)}
		}
		if err := st.CreateRuns(context.Background(), rs); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		mgr := runs.New(st, runs.Options{Owner: "restarted", Logger: quiet})
		started := make(chan error, 1)
		go func() { started <- mgr.Start(ctx) }()
		select {
		case err := <-started:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Start did not return with 10,050 runs queued")
		}
		defer func() { cancel(); mgr.Wait() }()
		// The queue is beyond its limit: a new run is refused, clearly, and not stored.
		err := mgr.Submit(context.Background(), &store.Run{Config: "{}", TriggeredBy: "vi"})
		var full *runs.ErrQueueFull
		if !errors.As(err, &full) || !strings.Contains(err.Error(), "runs queued") {
			t.Fatalf("submit beyond the queue limit: %v", err)
		}
		// And the workers are draining the queue from the store, oldest first.
		first := waitStatus(t, st, rs[0].ID, 20*time.Second)
		if !store.RunDone(first.Status) {
			t.Fatalf("the oldest queued run is still %s", first.Status)
		}
	})
}

func TestQueueLimitsPerUserAndInTotal(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		st := storetest.Open(t, kind)
		// Not started: runs stay queued.
		mgr := runs.New(st, runs.Options{Logger: quiet, MaxQueued: 3, MaxQueuedPerUser: 2})
		submit := func(user string) error {
			return mgr.Submit(context.Background(), &store.Run{Config: "{}", TriggeredBy: user})
		}
		for _, u := range []string{"a", "a"} {
			if err := submit(u); err != nil {
				t.Fatal(err)
			}
		}
		var full *runs.ErrQueueFull
		if err := submit("a"); !errors.As(err, &full) || !strings.Contains(err.Error(), "a has 2 runs queued") {
			t.Fatalf("a third run of one user: %v", err)
		}
		if err := submit("b"); err != nil {
			t.Fatalf("another user's first run: %v", err)
		}
		if err := submit("c"); !errors.As(err, &full) || !strings.Contains(err.Error(), "server has 3 runs queued") {
			t.Fatalf("a run beyond the total: %v", err)
		}
		total, _, _ := st.CountQueuedRuns(context.Background(), "")
		if total != 3 {
			t.Fatalf("%d runs queued, want 3 (refused runs must not be stored)", total)
		}
	})
}

// A run queued (or scheduled) before the allowed targets were narrowed must not reach
// a target now refused: the policy is checked when the run starts.
func TestAllowedTargetsCheckedWhenARunStarts(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		st := storetest.Open(t, kind)
		tgt, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.2:0"})
		if err != nil {
			t.Fatal(err)
		}
		defer tgt.Close()
		cfg := &smp.TestConfig{Duration: smp.Duration(time.Second), Clients: []smp.Client{{
			EndpointURLs: []string{tgt.URL() + "/"}, Connections: 1, RPS: 20}}}
		cfg.ApplyDefaults()
		run := &store.Run{Status: store.RunQueued, Config: configJSON(t, cfg), TriggeredBy: "schedule:nightly"}
		if err := st.CreateRun(context.Background(), run); err != nil {
			t.Fatal(err)
		}
		policy, err := api.ParseTargetPolicy([]string{"127.0.0.1/32"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		mgr := runs.New(st, runs.Options{Logger: quiet, Targets: policy})
		if err := mgr.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); mgr.Wait() }()
		got := waitStatus(t, st, run.ID, 15*time.Second)
		if got.Status != store.RunFailed || !strings.Contains(got.Error, "allowed targets") ||
			!strings.Contains(got.Error, "clients[0].endpoint_urls[0]") {
			t.Fatalf("run against a refused target ended %s: %q", got.Status, got.Error)
		}
		if n := tgt.Stats().Total; n != 0 {
			t.Fatalf("the refused target received %d requests", n)
		}
	})
}

// Cancel stops a run within a second whatever its size, even against a slow target.
func TestCancelStopsALargeRunAgainstASlowTarget(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		st := storetest.Open(t, kind)
		// A target that holds every request until the client goes away.
		var inFlight atomic.Int64
		release := make(chan struct{})
		tgt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inFlight.Add(1)
			defer inFlight.Add(-1)
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer tgt.Close()
		ctx, cancel := context.WithCancel(context.Background())
		mgr := runs.New(st, runs.Options{Logger: quiet})
		if err := mgr.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() { close(release); cancel(); mgr.Wait() }()
		cfg := &smp.TestConfig{Duration: smp.Duration(60 * time.Second), Clients: []smp.Client{{
			EndpointURLs: []string{tgt.URL + "/"}, Connections: 2000, Model: smp.ModelClosed,
			Timeout: smp.Duration(60 * time.Second)}}}
		cfg.ApplyDefaults()
		b, _ := json.Marshal(cfg)
		run := &store.Run{Config: string(b), TriggeredBy: "ed"}
		if err := mgr.Submit(context.Background(), run); err != nil {
			t.Fatal(err)
		}
		// Wait until the load is on: the target holds requests.
		deadline := time.Now().Add(20 * time.Second)
		for inFlight.Load() < 500 {
			if time.Now().After(deadline) {
				t.Fatalf("the run never loaded the target (%d in flight)", inFlight.Load())
			}
			time.Sleep(50 * time.Millisecond)
		}
		asked := time.Now()
		if err := mgr.Cancel(context.Background(), run.ID); err != nil {
			t.Fatal(err)
		}
		got := waitStatus(t, st, run.ID, 10*time.Second)
		took := time.Since(asked)
		if got.Status != store.RunCancelled {
			t.Fatalf("10s after cancel the run is %s (%s)", got.Status, got.Error)
		}
		// One second, plus slack for a loaded 2-core machine storing the result.
		if took > 3*time.Second {
			t.Fatalf("cancel took %v", took)
		}
		t.Logf("cancelled a 2,000-connection run in %v", took)
	})
}
