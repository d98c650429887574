package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

// A result is found by its full id, by any unambiguous prefix of it (the tables print
// 8 characters), and by its run's id; an ambiguous prefix names the candidates.
func TestGetResultByPrefixOrRunID(t *testing.T) {
	each(t, func(t *testing.T, kind string) {
		s, ctx := storetest.Open(t, kind), context.Background()
		start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		ids := []string{"0a1b2c3d-1111-4000-8000-000000000001", "0a1b2c3d-2222-4000-8000-000000000002", "9f8e7d6c-3333-4000-8000-000000000003"}
		runIDs := map[string]string{}
		for _, id := range ids {
			run := &store.Run{ProfileName: "p", Status: store.RunCompleted, Config: "{}"}
			if err := s.CreateRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			if _, err := s.SaveResult(ctx, sampleResult(id, start, nil), run); err != nil {
				t.Fatal(err)
			}
			runIDs[id] = run.ID
		}
		for ref, want := range map[string]string{
			ids[2]:              ids[2], // full id
			"9f8e7d6c":          ids[2], // the 8 characters the tables print
			"0a1b2c3d-1":        ids[0],
			runIDs[ids[1]]:      ids[1], // a run id
			runIDs[ids[1]][:13]: ids[1], // a prefix of one
		} {
			row, res, err := s.GetResult(ctx, ref)
			if err != nil || row.ID != want || res.ID != want {
				t.Errorf("GetResult(%q) = %v, %v; want %s", ref, row, err, want)
			}
		}
		_, _, err := s.GetResult(ctx, "0a1b2c3d")
		var amb *store.AmbiguousIDError
		if !errors.As(err, &amb) || len(amb.Matches) != 2 {
			t.Errorf("ambiguous prefix: %v", err)
		}
		for _, ref := range []string{"0a1", "ffffffff", "0a1b%", "0a1b____"} {
			if _, _, err := s.GetResult(ctx, ref); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetResult(%q): %v, want not found", ref, err)
			}
		}
	})
}
