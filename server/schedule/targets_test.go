package schedule_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/schedule"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
	"github.com/meshperf/meshperf/smp"
)

// A profile aimed at 127.0.0.2, saved before the server was restarted with
// --allow-target 127.0.0.1/32, must not be fired at 127.0.0.2 by its schedule.
func TestScheduledRunsRespectTheAllowedTargets(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			st := storetest.Open(t, kind)
			tgt, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.2:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer tgt.Close()
			cfg := &smp.TestConfig{Duration: smp.Duration(time.Second), Clients: []smp.Client{{EndpointURLs: []string{tgt.URL() + "/"}, RPS: 20}}}
			cfg.ApplyDefaults()
			b, _ := json.Marshal(cfg)
			ctx := context.Background()
			p := &store.Profile{Name: "old", Config: string(b)}
			if err := st.CreateProfile(ctx, p); err != nil {
				t.Fatal(err)
			}
			sc := &store.Schedule{Name: "s", ProfileID: p.ID, Cron: "@every 1s", Missed: store.MissedSkip, LastFire: time.Now().Add(-1500 * time.Millisecond)}
			if err := st.CreateSchedule(ctx, sc); err != nil {
				t.Fatal(err)
			}
			policy, _ := api.ParseTargetPolicy([]string{"127.0.0.1/32"})
			runCtx, cancel := context.WithCancel(ctx)
			mgr := runs.New(st, runs.Options{Logger: quiet, Targets: policy})
			if err := mgr.Start(runCtx); err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); mgr.Wait() }()
			schedule.New(st, mgr, "restarted", quiet).Fire(ctx)
			fired := scheduledRuns(t, st)
			if len(fired) != 1 {
				t.Fatalf("%d runs fired, want 1", len(fired))
			}
			deadline := time.Now().Add(15 * time.Second)
			for {
				r, _ := st.GetRun(ctx, fired[0].ID)
				if store.RunDone(r.Status) {
					if r.Status != store.RunFailed || !strings.Contains(r.Error, "allowed targets") {
						t.Fatalf("the scheduled run ended %s: %q", r.Status, r.Error)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the scheduled run is still %s", r.Status)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if n := tgt.Stats().Total; n != 0 {
				t.Fatalf("the refused target received %d requests", n)
			}
		})
	}
}
