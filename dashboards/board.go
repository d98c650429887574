// Package dashboards builds Grafana boards that compare meshperf results, checks them
// against Grafana's current dashboard schema, and puts them on a Grafana.
//
// A board carries meshperf's own numbers (latency percentiles, rate, errors per
// second) inside its queries, as TestData "csv_content" queries: TestData is built
// into Grafana and needs no server plugin, the numbers survive export and import, and
// the queries pass the schema's strict decoding. Grafana's snapshot form
// (panels[].snapshotData) was the other way; it is not part of the dashboard schema
// (strict decoding refuses it) and only the snapshot API shows it, so it is not used.
// Resource panels are PromQL against a Prometheus data source, each result's query
// moved by a PromQL offset onto the board's window.
package dashboards

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/testdata"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/meshperf/meshperf/smp"
)

// SchemaVersion is the dashboard schema the boards are written in (Grafana 11/12).
const SchemaVersion = 41

// GridColumns is the width of Grafana's grid.
const GridColumns = 24

// Data source types. "testdata" is the id the schema's TestData queries carry; Grafana
// resolves it to its built-in TestData source (grafana-testdata-datasource).
const (
	testdataType   = "testdata"
	prometheusType = "prometheus"
	testdataVar    = "testdata"
	prometheusVar  = "prometheus"
)

// Options shape a board.
type Options struct {
	// Title of the board; by default it names the results.
	Title string
	// PrometheusDatasource is the uid of a Prometheus data source in the target
	// Grafana; when set the board gains resource panels (ResourceQueries) over each
	// run's window. It becomes the default of the board's $prometheus variable.
	PrometheusDatasource string
	// ResourceQueries replace DefaultResourceQueries.
	ResourceQueries []Query
}

// Board is a generated dashboard in Grafana's JSON model.
type Board struct {
	UID   string
	Title string
	// From and To are the board's time range: every run drawn over it.
	From, To time.Time
	// Windows are the runs' measured windows as they happened, in the results' order.
	Windows []Window
	JSON    json.RawMessage
}

// Window is one run's measured window and where the board draws it.
type Window struct {
	ResultID   string        `json:"result_id"`
	Label      string        `json:"label"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end"`
	Shift      time.Duration `json:"shift"`
	ShownStart time.Time     `json:"shown_start"`
	ShownEnd   time.Time     `json:"shown_end"`
}

// Build makes a board comparing results (at least one). The board is validated
// (Validate) before it is returned.
func Build(results []*smp.Result, opt Options) (*Board, error) {
	runs, err := runsOf(results)
	if err != nil {
		return nil, err
	}
	queries := opt.ResourceQueries
	if len(queries) == 0 {
		queries = DefaultResourceQueries
	}
	b := &Board{UID: boardUID(results), Title: opt.Title}
	if b.Title == "" {
		b.Title = "meshperf: " + joinLabels(runs)
	}
	b.From = runs[0].start.Add(runs[0].shift)
	for _, r := range runs {
		w := Window{ResultID: r.result.ID, Label: r.label, Start: r.start, End: r.end, Shift: r.shift,
			ShownStart: r.start.Add(r.shift), ShownEnd: r.end.Add(r.shift)}
		b.Windows = append(b.Windows, w)
		if w.ShownEnd.After(b.To) {
			b.To = w.ShownEnd
		}
	}

	db := dashboard.NewDashboardBuilder(b.Title).
		Uid(b.UID).
		Tags([]string{"meshperf"}).
		Description(describe(b.Windows)).
		Timezone("utc").
		Time(grafanaTime(b.From), grafanaTime(b.To)).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder(testdataVar).Label("meshperf data (TestData)").Type("grafana-testdata-datasource"))

	layout := &grid{}
	td := common.DataSourceRef{Type: cog.ToPtr(testdataType), Uid: cog.ToPtr("${" + testdataVar + "}")}
	perRun := []struct {
		title, unit string
		value       func(second) (float64, bool)
	}{
		{"Latency p50", "ms", func(s second) (float64, bool) { return s.p50, s.requests > 0 }},
		{"Latency p90", "ms", func(s second) (float64, bool) { return s.p90, s.requests > 0 }},
		{"Latency p99", "ms", func(s second) (float64, bool) { return s.p99, s.requests > 0 }},
		{"Request rate", "reqps", func(s second) (float64, bool) { return perSecond(s.requests, s.seconds), s.seconds > 0 }},
		{"Errors per second", "reqps", func(s second) (float64, bool) { return perSecond(s.failures, s.seconds), s.seconds > 0 }},
		{"Error rate", "percentunit", func(s second) (float64, bool) {
			return float64(s.failures) / float64(s.requests), s.requests > 0
		}},
	}
	for i, p := range perRun {
		pb := timeseries.NewPanelBuilder().Id(uint32(i + 1)).Title(p.title).Unit(p.unit).
			Datasource(td).DisplayName("${__series.name}").GridPos(layout.place(8, 8))
		for j, r := range runs {
			pb.WithTarget(testdata.NewDataqueryBuilder().RefId(refID(j)).Datasource(td).
				ScenarioId(testdata.DataqueryScenarioIdCsvContent).Alias(r.label).
				CsvContent(seriesCSV(r, p.value)))
		}
		db.WithPanel(pb)
	}

	if opt.PrometheusDatasource != "" {
		prom := common.DataSourceRef{Type: cog.ToPtr(prometheusType), Uid: cog.ToPtr("${" + prometheusVar + "}")}
		current := dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr(opt.PrometheusDatasource)},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(opt.PrometheusDatasource)},
		}
		db.WithVariable(dashboard.NewDatasourceVariableBuilder(prometheusVar).Label("Prometheus").
			Type(prometheusType).Current(current))
		for i, q := range queries {
			if q.Title == "" {
				return nil, fmt.Errorf("resource_queries[%d].title: empty", i)
			}
			unit := q.Unit
			if unit == "" {
				unit = "short"
			}
			pb := timeseries.NewPanelBuilder().Id(uint32(len(perRun) + i + 1)).Title(q.Title).Unit(unit).
				Datasource(prom).GridPos(layout.place(12, 8))
			for j, r := range runs {
				expr, err := shiftPromQL(q.Expr, r.shift)
				if err != nil {
					return nil, fmt.Errorf("resource_queries[%d].expr: %w", i, err)
				}
				pb.WithTarget(prometheus.NewDataqueryBuilder().RefId(refID(j)).Datasource(prom).
					Expr(expr).Range().LegendFormat(r.label))
			}
			db.WithPanel(pb)
		}
	}

	for _, r := range runs {
		db.Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("run " + r.label).
			Datasource(td).
			Enable(true).
			IconColor("rgba(0, 211, 255, 1)").
			Target(testdata.NewDataqueryBuilder().RefId("Anno").Datasource(td).
				ScenarioId(testdata.DataqueryScenarioIdCsvContent).
				CsvContent(windowCSV(r))))
	}

	built, err := db.Build()
	if err != nil {
		return nil, fmt.Errorf("building the board: %w", err)
	}
	built.SchemaVersion = SchemaVersion
	raw, err := json.MarshalIndent(built, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the board: %w", err)
	}
	if err := Validate(raw); err != nil {
		return nil, fmt.Errorf("generated board is invalid: %w", err)
	}
	b.JSON = raw
	return b, nil
}

var _ variants.Dataquery = testdata.Dataquery{}

// grid places panels left to right, wrapping at GridColumns.
type grid struct{ x, y, rowH uint32 }

func (g *grid) place(w, h uint32) dashboard.GridPos {
	if g.x+w > GridColumns {
		g.x, g.y, g.rowH = 0, g.y+g.rowH, 0
	}
	pos := dashboard.GridPos{X: g.x, Y: g.y, W: w, H: h}
	g.x += w
	g.rowH = max(g.rowH, h)
	return pos
}

// seriesCSV writes one run's per-second values as TestData reads them: a column whose
// name contains "time" holding epoch milliseconds becomes the time field; the value
// column is named "value" (a result's name could contain "time" or "{") and the legend
// shows the query's alias.
func seriesCSV(r run, value func(second) (float64, bool)) string {
	rows := [][]string{{"time", "value"}}
	for _, s := range r.seconds {
		v, ok := value(s)
		if !ok {
			continue
		}
		rows = append(rows, []string{epochMillis(s.end.Add(r.shift)), strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return writeCSV(rows)
}

// windowCSV is one run's annotation: a region over its measured window as drawn.
func windowCSV(r run) string {
	text := fmt.Sprintf("%s measured %s to %s UTC", r.label,
		r.start.UTC().Format(time.RFC3339), r.end.UTC().Format(time.RFC3339))
	if r.shift > 0 {
		text += fmt.Sprintf(", drawn %s later to overlay the last run", r.shift)
	}
	return writeCSV([][]string{{"time", "timeEnd", "text"},
		{epochMillis(r.start.Add(r.shift)), epochMillis(r.end.Add(r.shift)), text}})
}

func writeCSV(rows [][]string) string {
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	_ = w.WriteAll(rows) // a strings.Builder does not fail
	return sb.String()
}

func epochMillis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func grafanaTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func perSecond(n int64, seconds float64) float64 { return float64(n) / seconds }

func refID(i int) string {
	// A, B, ..., Z, AA, AB, ...
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}

// boardUID is stable for a set of results, so uploading the same comparison again
// replaces its board.
func boardUID(results []*smp.Result) string {
	h := sha256.New()
	for _, r := range results {
		h.Write([]byte(r.ID))
		h.Write([]byte{0})
	}
	return "meshperf-" + hex.EncodeToString(h.Sum(nil))[:16]
}

func joinLabels(runs []run) string {
	labels := make([]string, len(runs))
	for i, r := range runs {
		labels[i] = r.label
	}
	s := strings.Join(labels, " vs ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func describe(ws []Window) string {
	var sb strings.Builder
	sb.WriteString("Generated by meshperf. Runs are drawn over the last run's window; each run's own window:")
	for _, w := range ws {
		fmt.Fprintf(&sb, "\n- %s: %s to %s UTC", w.Label, w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339))
	}
	return sb.String()
}
