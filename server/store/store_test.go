package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
	"github.com/meshperf/meshperf/smp"
)

func each(t *testing.T, f func(t *testing.T, kind string)) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) { f(t, kind) })
	}
}

// Migrations apply on an empty database, a second start finds nothing to do, and
// replicas starting at once do not trip over each other.
func TestMigrations(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		dbURL, dir := storetest.URL(t, kind)
		var wg sync.WaitGroup
		errs := make([]error, 3)
		stores := make([]*store.Store, 3)
		for i := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stores[i], errs[i] = store.Open(ctx, dbURL, dir)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
			defer stores[i].Close()
		}
		ids, err := stores[0].AppliedMigrations(ctx)
		if err != nil || strings.Join(ids, ",") != strings.Join(store.MigrationIDs(), ",") || len(ids) < 2 {
			t.Fatalf("applied %v, %v; want %v", ids, err, store.MigrationIDs())
		}
		again, err := store.Open(ctx, dbURL, dir)
		if err != nil {
			t.Fatalf("re-open: %v", err)
		}
		defer again.Close()
		if ids2, _ := again.AppliedMigrations(ctx); len(ids2) != len(ids) {
			t.Errorf("re-run applied again: %v", ids2)
		}
	})
}

// The migrations build everything the models declare: a model change without its
// migration fails here.
func TestSchemaMatchesModels(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		s := storetest.Open(t, kind)
		drift, err := s.SchemaDrift(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(drift) > 0 {
			t.Errorf("the models declare what no migration made: %v", drift)
		}
	})
}

// A database at the first schema version, with data in it, upgrades on a normal start
// and keeps its data.
func TestUpgradeFromFirstVersion(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		dbURL, dir := storetest.URL(t, kind)
		old, err := store.OpenAt(ctx, dbURL, dir, store.MigrationIDs()[0])
		if err != nil {
			t.Fatal(err)
		}
		if ids, _ := old.AppliedMigrations(ctx); len(ids) != 1 {
			t.Fatalf("old schema: %v", ids)
		}
		if err := old.CreateProfile(ctx, &store.Profile{Name: "kept", Config: "{}"}); err != nil {
			t.Fatal(err)
		}
		old.Close()
		s, err := store.Open(ctx, dbURL, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.GetProfile(ctx, "kept"); err != nil {
			t.Errorf("data lost in the upgrade: %v", err)
		}
		p, _ := s.GetProfile(ctx, "kept")
		if err := s.CreateSchedule(ctx, &store.Schedule{Name: "nightly", ProfileID: p.ID, Cron: "@daily", Missed: store.MissedSkip}); err != nil {
			t.Errorf("the new tables: %v", err)
		}
	})
}

func TestTokens(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		s, ctx := storetest.Open(t, kind), context.Background()
		u, err := s.CreateUserWithToken(ctx, "ci", "editor", "mpt_secret-one")
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Authenticate(ctx, "mpt_secret-one")
		if err != nil || got.ID != u.ID || got.Role != "editor" {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		if _, err := s.Authenticate(ctx, "mpt_wrong"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a wrong token: %v", err)
		}
		if _, err := s.CreateUserWithToken(ctx, "ci", "viewer", "mpt_other"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate user: %v", err)
		}
		tok, err := s.AddToken(ctx, u.ID, "laptop", "mpt_secret-two")
		if err != nil {
			t.Fatal(err)
		}
		if tok.Hash == "mpt_secret-two" || tok.Hash != store.HashToken("mpt_secret-two") {
			t.Errorf("token stored in clear or wrongly hashed")
		}
		if err := s.DeleteToken(ctx, u.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, "mpt_secret-two"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted token still works: %v", err)
		}
	})
}

func TestProfileVersionsAndDelete(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		s, ctx := storetest.Open(t, kind), context.Background()
		p := &store.Profile{Name: "checkout", Config: `{"v":1}`, CreatedBy: "ann"}
		if err := s.CreateProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateProfile(ctx, &store.Profile{Name: "checkout", Config: "{}"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate name: %v", err)
		}
		up, err := s.UpdateProfile(ctx, "checkout", `{"v":2}`, "", "bob")
		if err != nil || up.Version != 2 {
			t.Fatalf("update: %+v %v", up, err)
		}
		same, _ := s.UpdateProfile(ctx, p.ID, `{"v":2}`, "", "bob")
		if same.Version != 2 {
			t.Errorf("an unchanged config made version %d", same.Version)
		}
		vs, _ := s.ProfileVersions(ctx, p.ID)
		if len(vs) != 2 || vs[0].Config != `{"v":2}` || vs[1].Config != `{"v":1}` || vs[0].CreatedBy != "bob" {
			t.Errorf("versions %+v", vs)
		}
		// A result of this profile survives the profile's deletion.
		run := &store.Run{ProfileID: &p.ID, ProfileName: p.Name, ProfileVersion: 2, Status: store.RunCompleted, Config: "{}"}
		if err := s.CreateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		res := sampleResult("r-keep", time.Now(), map[string]string{"team": "a"})
		if _, err := s.SaveResult(ctx, res, run); err != nil {
			t.Fatal(err)
		}
		kept, err := s.DeleteProfile(ctx, "checkout")
		if err != nil || kept != 1 {
			t.Fatalf("delete: kept %d, %v", kept, err)
		}
		if _, err := s.GetProfile(ctx, "checkout"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("profile still there: %v", err)
		}
		row, full, err := s.GetResult(ctx, "r-keep")
		if err != nil || row.ProfileName != "checkout" || row.ProfileVersion != 2 || full.Summary.Requests != 100 {
			t.Errorf("kept result: %+v %v", row, err)
		}
	})
}

func TestIntervalsStoredOnceInOrder(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		s, ctx := storetest.Open(t, kind), context.Background()
		run := &store.Run{Status: store.RunRunning, Config: "{}"}
		if err := s.CreateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{2, 0, 1, 1, 0} { // out of order, with replays
			h := smp.NewHistogram()
			h.RecordMicros(int64(100 * (i + 1)))
			iv := &smp.Interval{Source: "client-0", Index: i, Requests: int64(10 * (i + 1)), Latency: h}
			if err := s.AddInterval(ctx, run.ID, iv); err != nil {
				t.Fatal(err)
			}
		}
		ivs, err := s.Intervals(ctx, run.ID)
		if err != nil || len(ivs) != 3 {
			t.Fatalf("%d intervals, %v", len(ivs), err)
		}
		for i, iv := range ivs {
			if iv.Index != i || iv.Requests != int64(10*(i+1)) || iv.Latency.Count() != 1 {
				t.Errorf("interval %d: %+v", i, iv)
			}
		}
		ok, _ := s.ClaimRun(ctx, run.ID, "me")
		if ok {
			t.Errorf("claimed a running run")
		}
		un, _ := s.UnfinishedRuns(ctx, "")
		if len(un) != 1 {
			t.Errorf("unfinished %d", len(un))
		}
	})
}

func sampleResult(id string, start time.Time, labels map[string]string) *smp.Result {
	h := smp.NewHistogram()
	h.RecordMicros(1500)
	return &smp.Result{ID: id, Status: smp.StatusCompleted, StartTime: start, EndTime: start.Add(time.Minute), Labels: labels,
		Latency: h, Summary: smp.Summary{Requests: 100, ActualRPS: 10, Latency: smp.Summarize(h)}}
}

// Listing filters by profile, labels, time and status, and pages with a cursor that
// neither skips nor repeats.
func TestListResultsFiltersAndPages(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		s, ctx := storetest.Open(t, kind), context.Background()
		base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		pa, pb := "prof-a", "prof-b"
		for i := range 25 {
			pid := &pa
			if i%5 == 0 {
				pid = &pb
			}
			run := &store.Run{ProfileID: pid, ProfileName: *pid, Status: store.RunCompleted, Config: "{}"}
			s.CreateRun(ctx, run)
			labels := map[string]string{"env": []string{"prod", "staging"}[i%2], "n": fmt.Sprint(i)}
			// several results share a start time: the cursor must order by id too
			if _, err := s.SaveResult(ctx, sampleResult(fmt.Sprintf("res-%02d", i), base.Add(time.Duration(i/3)*time.Hour), labels), run); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			rows, next, err := s.ListResults(ctx, store.ResultFilter{Limit: 4, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, r := range rows {
				if seen[r.ID] {
					t.Fatalf("%s repeated on page %d", r.ID, pages)
				}
				seen[r.ID] = true
				if len(r.Data) != 0 {
					t.Fatalf("list returned the full data")
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != 25 || pages != 7 {
			t.Errorf("saw %d results in %d pages", len(seen), pages)
		}
		rows, _, _ := s.ListResults(ctx, store.ResultFilter{Labels: map[string]string{"env": "prod"}, Profile: "prof-a", Limit: 100})
		for _, r := range rows {
			if r.ProfileName != "prof-a" {
				t.Errorf("profile filter let %s through", r.ProfileName)
			}
		}
		if len(rows) != 10 { // even i (prod) minus multiples of 10 (prof-b): 13 - 3
			t.Errorf("label+profile filter: %d rows, want 10", len(rows))
		}
		rows, _, _ = s.ListResults(ctx, store.ResultFilter{Since: base.Add(2 * time.Hour), Until: base.Add(4 * time.Hour), Limit: 100})
		if len(rows) != 6 {
			t.Errorf("time filter: %d rows, want 6", len(rows))
		}
		if _, _, err := s.ListResults(ctx, store.ResultFilter{Cursor: "garbage!"}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("bad cursor: %v", err)
		}
		if err := s.DeleteResult(ctx, "res-03"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteResult(ctx, "res-03"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
	})
}
