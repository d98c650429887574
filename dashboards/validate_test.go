package dashboards

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestValidateRefuses breaks a valid board one way at a time: each must be refused,
// naming what is wrong.
func TestValidateRefuses(t *testing.T) {
	b, err := Build(realResults(t)[:2], Options{PrometheusDatasource: "prom"})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		edit func(m map[string]any)
		want string
	}{
		"legacy rows": {func(m map[string]any) { m["rows"] = []any{map[string]any{"panels": []any{}}} }, "rows"},
		"snapshotData": {func(m map[string]any) {
			panel(m, 0)["snapshotData"] = []any{}
		}, "snapshotData"},
		"old schema":    {func(m map[string]any) { m["schemaVersion"] = 16 }, "schemaVersion"},
		"unknown field": {func(m map[string]any) { m["sharedCrosshair"] = true }, "sharedCrosshair"},
		"legacy graph":  {func(m map[string]any) { panel(m, 0)["type"] = "graph" }, "legacy panel"},
		"too wide":      {func(m map[string]any) { gridOf(m, 1)["w"] = 20 }, "does not fit"},
		"overlap":       {func(m map[string]any) { gridOf(m, 1)["x"] = 4 }, "overlaps panels[0]"},
		"no gridPos":    {func(m map[string]any) { delete(panel(m, 2), "gridPos") }, "panels[2].gridPos: missing"},
		"row": {func(m map[string]any) {
			m["panels"].([]any)[0] = map[string]any{"type": "row", "id": 99, "title": "r", "collapsed": false, "panels": []any{},
				"gridPos": map[string]any{"x": 0, "y": 0, "w": 8, "h": 8}}
		}, "panels[0]: a row"},
		"bad promql":     {func(m map[string]any) { target(m, 6, 1)["expr"] = "rate(x[1m]" }, "panels[6].targets[1].expr"},
		"bad query kind": {func(m map[string]any) { target(m, 0, 0)["scenarioId"] = 42 }, "scenarioId"},
	} {
		t.Run(name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(b.JSON, &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(m)
			raw, _ := json.Marshal(m)
			err := Validate(raw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func panel(m map[string]any, i int) map[string]any  { return m["panels"].([]any)[i].(map[string]any) }
func gridOf(m map[string]any, i int) map[string]any { return panel(m, i)["gridPos"].(map[string]any) }
func target(m map[string]any, p, i int) map[string]any {
	return panel(m, p)["targets"].([]any)[i].(map[string]any)
}
