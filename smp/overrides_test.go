package smp

import (
	"testing"
	"time"
)

func TestOverridesApplyAndName(t *testing.T) {
	cfg := &TestConfig{Duration: Duration(time.Minute), Labels: map[string]string{"team": "a"},
		Clients: []Client{{RPS: 10, Connections: 2}, {RPS: 20, Connections: 4}}}
	rps, conns, warm := int64(50), int32(8), Duration(2*time.Second)
	o := &Overrides{Duration: Duration(5 * time.Second), Warmup: &warm, RPS: &rps, Connections: &conns,
		Labels: map[string]string{"run": "x"}}
	o.Apply(cfg)
	if cfg.Duration.D() != 5*time.Second || cfg.Warmup.D() != 2*time.Second || cfg.Labels["team"] != "a" || cfg.Labels["run"] != "x" {
		t.Errorf("config after overrides: %+v", cfg)
	}
	for i, c := range cfg.Clients {
		if c.RPS != 50 || c.Connections != 8 {
			t.Errorf("clients[%d]: rps %d connections %d", i, c.RPS, c.Connections)
		}
	}
	// A problem is named by the override that caused it, else by the profile's path.
	for path, want := range map[string]string{"clients[1].rps": "overrides.rps", "duration": "overrides.duration",
		"clients[0].timeout": "clients[0].timeout", "labels.run": "overrides.labels.run"} {
		if got := o.Field(path); got != want {
			t.Errorf("Field(%q) = %q, want %q", path, got, want)
		}
	}
	if got := (&Overrides{}).Field("clients[0].rps"); got != "clients[0].rps" {
		t.Errorf("no override: %q", got)
	}
}
