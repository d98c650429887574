package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// MinSchemaVersion is the oldest dashboard schema accepted (Grafana 10.4's).
const MinSchemaVersion = 39

// legacyPanelTypes were removed from Grafana (migrated on load, never written).
var legacyPanelTypes = map[string]bool{"graph": true, "singlestat": true, "table-old": true, "grafana-piechart-panel": true}

var registerPlugins sync.Once

// Validate checks a board's JSON against Grafana's dashboard schema: strict decoding
// (unknown and legacy fields such as rows or snapshotData are refused, every panel
// and query by its type's schema), the schema's own checks, the current layout
// (schema version, a grid position for every panel inside 24 columns, no overlaps,
// no legacy panel types) and every PromQL query parsed as Prometheus parses it.
func Validate(raw []byte) error {
	registerPlugins.Do(plugins.RegisterDefaultPlugins)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	if _, ok := top["rows"]; ok {
		return errors.New("rows: legacy layout; panels with gridPos are the current schema")
	}
	var board dashboard.Dashboard
	if err := schemaError(board.UnmarshalJSONStrict(raw)); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if err := schemaError(board.Validate()); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if board.SchemaVersion < MinSchemaVersion {
		return fmt.Errorf("schemaVersion: %d is older than %d", board.SchemaVersion, MinSchemaVersion)
	}
	// The SDK's strict decoder drops panels and queries it decoded without error (an
	// empty error list is a non-nil error to it), so panels are read here one by one.
	var panels []rawPanel
	if err := json.Unmarshal(top["panels"], &panels); err != nil && top["panels"] != nil {
		return fmt.Errorf("panels: %w", err)
	}
	var problems []string
	var placed []placedPanel
	for i, p := range panels {
		path := fmt.Sprintf("panels[%d]", i)
		if p.Type == "row" {
			problems = append(problems, path+": a row; boards are flat grids")
			continue
		}
		var panel dashboard.Panel
		if err := schemaError(panel.UnmarshalJSONStrict(p.raw)); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", path, err))
		} else if err := schemaError(panel.Validate()); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", path, err))
		}
		if legacyPanelTypes[p.Type] {
			problems = append(problems, fmt.Sprintf("%s.type: %q is a legacy panel", path, p.Type))
		}
		if p.GridPos == nil {
			problems = append(problems, path+".gridPos: missing")
		} else {
			g := *p.GridPos
			if g.W == 0 || g.H == 0 || g.X+g.W > GridColumns {
				problems = append(problems, fmt.Sprintf("%s.gridPos: x=%d w=%d h=%d does not fit %d columns", path, g.X, g.W, g.H, GridColumns))
			}
			for _, o := range placed {
				if overlaps(g, o.pos) {
					problems = append(problems, fmt.Sprintf("%s.gridPos: overlaps %s", path, o.path))
				}
			}
			placed = append(placed, placedPanel{path, g})
		}
		for j, t := range p.Targets {
			if t.isPrometheus(p.Datasource) {
				if _, err := ParsePromQL(t.Expr); err != nil {
					problems = append(problems, fmt.Sprintf("%s.targets[%d].expr: %v", path, j, err))
				}
			}
		}
	}
	var annotations struct {
		List []struct {
			Datasource *dataSourceRef `json:"datasource"`
			Expr       *string        `json:"expr"`
			Target     *rawTarget     `json:"target"`
		} `json:"list"`
	}
	_ = json.Unmarshal(top["annotations"], &annotations) // its shape was checked above
	for i, a := range annotations.List {
		if a.Target != nil && a.Target.isPrometheus(a.Datasource) {
			if _, err := ParsePromQL(a.Target.Expr); err != nil {
				problems = append(problems, fmt.Sprintf("annotations.list[%d].target.expr: %v", i, err))
			}
		}
		if a.Expr != nil && a.Datasource != nil && a.Datasource.Type == prometheusType {
			if _, err := ParsePromQL(*a.Expr); err != nil {
				problems = append(problems, fmt.Sprintf("annotations.list[%d].expr: %v", i, err))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// schemaError drops the empty error list the SDK's strict decoder returns for a valid
// board (a nil list in a non-nil error).
func schemaError(err error) error {
	var list cog.BuildErrors
	if errors.As(err, &list) && len(list) == 0 {
		return nil
	}
	return err
}

type dataSourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type rawTarget struct {
	Datasource *dataSourceRef `json:"datasource"`
	Expr       string         `json:"expr"`
}

// isPrometheus: a query is PromQL when its own data source, or else its panel's, is
// a Prometheus.
func (t rawTarget) isPrometheus(panel *dataSourceRef) bool {
	if t.Datasource != nil && t.Datasource.Type != "" {
		return t.Datasource.Type == prometheusType
	}
	return panel != nil && panel.Type == prometheusType
}

type rawPanel struct {
	Type       string             `json:"type"`
	GridPos    *dashboard.GridPos `json:"gridPos"`
	Datasource *dataSourceRef     `json:"datasource"`
	Targets    []rawTarget        `json:"targets"`
	raw        []byte
}

func (p *rawPanel) UnmarshalJSON(b []byte) error {
	type plain rawPanel
	if err := json.Unmarshal(b, (*plain)(p)); err != nil {
		return err
	}
	p.raw = b
	return nil
}

type placedPanel struct {
	path string
	pos  dashboard.GridPos
}

func overlaps(a, b dashboard.GridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}
