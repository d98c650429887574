package schedule_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/schedule"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func setup(t *testing.T, st *store.Store, spec, missed string, lastFire time.Time) *store.Schedule {
	t.Helper()
	ctx := context.Background()
	p := &store.Profile{Name: "nightly", Config: `{"duration":"1s","clients":[{"endpoint_urls":["http://127.0.0.1:1/"],"rps":1}]}`}
	if err := st.CreateProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	sc := &store.Schedule{Name: "s", ProfileID: p.ID, Cron: spec, Missed: missed, LastFire: lastFire}
	if err := st.CreateSchedule(ctx, sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

func scheduledRuns(t *testing.T, st *store.Store) []store.Run {
	all, err := st.ListRuns(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Run
	for _, r := range all {
		if r.ScheduleID != nil {
			out = append(out, r)
		}
	}
	return out
}

// Two servers sharing one PostgreSQL, both checking every second: each fire time runs
// exactly once. (The run managers are not started: runs stay queued, nothing is sent.)
func TestFiresOnceAcrossServers(t *testing.T) {
	st := storetest.Open(t, "postgres")
	sc := setup(t, st, "@every 1s", store.MissedSkip, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 4500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for _, owner := range []string{"server-a", "server-b"} {
		s2, err := store.Open(context.Background(), storetest.URLOf(st), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		sched := schedule.New(s2, runs.New(s2, runs.Options{Owner: owner, Logger: quiet}), owner, quiet)
		wg.Add(1)
		go func() { defer wg.Done(); sched.Run(ctx) }()
	}
	wg.Wait()
	rs := scheduledRuns(t, st)
	fs, _ := st.Firings(context.Background(), sc.ID, 100)
	owners := map[string]int{}
	for _, f := range fs {
		owners[f.Owner]++
		if f.RunID == "" || f.Outcome != "started" {
			t.Errorf("firing %v: %+v", f.FireTime, f)
		}
	}
	t.Logf("%d firings, %d runs, by owner %v", len(fs), len(rs), owners)
	if len(fs) < 3 || len(rs) != len(fs) {
		t.Fatalf("%d firings but %d runs", len(fs), len(rs))
	}
	for _, r := range rs {
		if r.TriggeredBy != "schedule:s" || r.ProfileVersion != 1 || !strings.Contains(r.Config, `"name":"nightly"`) {
			t.Errorf("run %+v", r)
		}
	}
}

// After downtime, a schedule's missed firings are skipped (recorded) or run once.
func TestMissedFirings(t *testing.T) {
	for _, kind := range storetest.Kinds {
		for _, policy := range []string{store.MissedSkip, store.MissedRunOnce} {
			t.Run(kind+"/"+policy, func(t *testing.T) {
				st := storetest.Open(t, kind)
				down := time.Now().Add(-10*time.Minute - 30*time.Second)
				sc := setup(t, st, "@every 1m", policy, down)
				sched := schedule.New(st, runs.New(st, runs.Options{Logger: quiet}), "restarted", quiet)
				sched.Fire(context.Background())
				sched.Fire(context.Background()) // a second check changes nothing
				rs := scheduledRuns(t, st)
				fs, _ := st.Firings(context.Background(), sc.ID, 10)
				after, _ := st.GetSchedule(context.Background(), sc.ID)
				want := 0
				if policy == store.MissedRunOnce {
					want = 1
				}
				if len(rs) != want || len(fs) != 1 {
					t.Fatalf("%d runs (want %d), firings %+v", len(rs), want, fs)
				}
				if !strings.Contains(fs[0].Outcome, "10 missed") {
					t.Errorf("outcome %q", fs[0].Outcome)
				}
				if time.Since(after.LastFire) > time.Minute {
					t.Errorf("LastFire not advanced: %v", after.LastFire)
				}
			})
		}
	}
}

func TestParseAndNext(t *testing.T) {
	for _, ok := range []string{"0 2 * * *", "*/10 * * * * *", "@daily", "@every 15m", "CRON_TZ=Europe/Paris 0 9 * * 1-5"} {
		if _, err := schedule.Parse(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "every day", "61 * * * *", "@sometimes"} {
		if _, err := schedule.Parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	next := schedule.Next("0 2 * * *", time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC), 2)
	if len(next) != 2 || !next[0].Equal(time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("next %v", next)
	}
}
