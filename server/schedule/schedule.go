// Package schedule fires profiles on cron schedules. Every server runs a scheduler;
// each fire time is claimed in the database first, so a firing runs exactly once
// however many servers share the database. Fire times that fell while no server ran
// (older than MissedAfter) follow the schedule's policy: skip, or run once.
package schedule

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/meshperf/meshperf/server/runs"
	"github.com/meshperf/meshperf/server/store"
)

// MissedAfter is how old a due fire time must be to count as missed (downtime) rather
// than merely due.
const MissedAfter = 30 * time.Second

// parser reads standard 5-field specs, an optional leading seconds field, descriptors
// (@daily, @every 10m) and a CRON_TZ= prefix.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse checks a cron spec. It refuses what the cron library would silently change
// or never fire: "@every" below one second or not in whole seconds (0s and -1s fired
// every second), and specs with no fire time (0 0 30 2 *: February 30th).
func Parse(spec string) (cron.Schedule, error) {
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q is not a cron spec (5 fields, or 6 with seconds, or @daily, @every 10m): %v", spec, err)
	}
	if every, ok := strings.CutPrefix(strings.TrimSpace(spec), "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(every))
		if err != nil || d < time.Second || d%time.Second != 0 {
			return nil, fmt.Errorf("%q: @every needs a whole number of seconds, at least 1s", spec)
		}
	}
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("%q never fires", spec)
	}
	return s, nil
}

// Next lists the next n fire times after t.
func Next(spec string, t time.Time, n int) []time.Time {
	s, err := Parse(spec)
	if err != nil {
		return nil
	}
	var out []time.Time
	for range n {
		t = s.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}

// Scheduler fires due schedules.
type Scheduler struct {
	st    *store.Store
	runs  *runs.Manager
	owner string
	log   *slog.Logger
	tick  time.Duration
	now   func() time.Time
	// OnFiring, if set, counts the firings this server claimed by outcome (started,
	// skipped, failed).
	OnFiring func(outcome string)
}

// New returns a scheduler for one server (owner names it in the firings).
func New(st *store.Store, mgr *runs.Manager, owner string, log *slog.Logger) *Scheduler {
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{st: st, runs: mgr, owner: owner, log: log, tick: time.Second, now: time.Now}
}

// Run checks the schedules every second until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		s.Fire(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Fire handles every schedule's due fire times once.
func (s *Scheduler) Fire(ctx context.Context) {
	scheds, err := s.st.ListSchedules(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("listing schedules", "err", err)
		}
		return
	}
	now := s.now().UTC()
	for i := range scheds {
		if !scheds[i].Paused {
			s.fireOne(ctx, &scheds[i], now)
		}
	}
}

func (s *Scheduler) fireOne(ctx context.Context, sc *store.Schedule, now time.Time) {
	spec, err := Parse(sc.Cron)
	if err != nil {
		s.log.Error("a stored schedule does not parse", "schedule", sc.Name, "err", err)
		return
	}
	from := sc.LastFire
	if from.IsZero() {
		from = sc.CreatedAt
	}
	var missed []time.Time
	var due time.Time
	for t := spec.Next(from); !t.IsZero() && !t.After(now); t = spec.Next(t) {
		if now.Sub(t) > MissedAfter {
			missed = append(missed, t)
		} else {
			due = t // the latest due time; earlier recent ones fold into it
		}
		if len(missed) > 100_000 {
			break // a per-second schedule down for days: enough counted
		}
	}
	if len(missed) > 0 {
		last := missed[len(missed)-1]
		if sc.Missed == store.MissedRunOnce && due.IsZero() {
			s.start(ctx, sc, last, fmt.Sprintf("started (once for %d missed)", len(missed)))
		} else {
			outcome := fmt.Sprintf("skipped %d missed", len(missed))
			if sc.Missed == store.MissedRunOnce {
				outcome += " (a due firing follows)"
			}
			if won, err := s.st.ClaimFiring(ctx, sc.ID, last, s.owner, outcome); err != nil {
				s.log.Warn("recording missed firings", "schedule", sc.Name, "err", err)
			} else if won {
				s.counted("skipped")
			}
		}
		if err := s.st.AdvanceLastFire(ctx, sc.ID, last); err != nil {
			s.log.Warn("advancing a schedule", "schedule", sc.Name, "err", err)
		}
	}
	if !due.IsZero() {
		s.start(ctx, sc, due, "started")
		if err := s.st.AdvanceLastFire(ctx, sc.ID, due); err != nil {
			s.log.Warn("advancing a schedule", "schedule", sc.Name, "err", err)
		}
	}
}

func (s *Scheduler) counted(outcome string) {
	if s.OnFiring != nil {
		s.OnFiring(outcome)
	}
}

// named is the profile's config with the profile's name when the config has none, as
// a run through the API gets it.
func named(p *store.Profile) string {
	var cfg map[string]any
	if json.Unmarshal([]byte(p.Config), &cfg) != nil {
		return p.Config
	}
	if n, _ := cfg["name"].(string); n == "" {
		cfg["name"] = p.Name
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return p.Config
	}
	return string(b)
}

// start claims a fire time and, if this server won it, submits the run.
func (s *Scheduler) start(ctx context.Context, sc *store.Schedule, at time.Time, outcome string) {
	won, err := s.st.ClaimFiring(ctx, sc.ID, at, s.owner, outcome)
	if err != nil || !won {
		if err != nil {
			s.log.Warn("claiming a firing", "schedule", sc.Name, "err", err)
		}
		return
	}
	p, err := s.st.GetProfile(ctx, sc.ProfileID)
	if err != nil {
		_ = s.st.SetFiringRun(ctx, sc.ID, at, "", "failed: the profile is gone")
		s.counted("failed")
		return
	}
	id := sc.ID
	run := &store.Run{ProfileID: &p.ID, ProfileName: p.Name, ProfileVersion: p.Version, Config: named(p),
		TriggeredBy: "schedule:" + sc.Name, ScheduleID: &id}
	if err := s.runs.Submit(ctx, run); err != nil {
		_ = s.st.SetFiringRun(ctx, sc.ID, at, "", "failed: "+err.Error())
		s.counted("failed")
		return
	}
	s.counted("started")
	_ = s.st.SetFiringRun(ctx, sc.ID, at, run.ID, outcome)
	s.log.Info("schedule fired", "schedule", sc.Name, "at", at, "run", run.ID)
}
