package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

// roleLabels name the resource roles for people.
var roleLabels = map[string]string{
	smp.RoleProxyCPU: "proxy CPU", smp.RoleProxyMemory: "proxy memory",
	smp.RoleControlPlaneCPU: "control plane CPU", smp.RoleControlPlaneMemory: "control plane memory",
}

// resourceValue writes a figure in its unit: cores with three decimals, bytes in MiB.
func resourceValue(v float64, unit string) string {
	switch unit {
	case perf.UnitCores:
		return fmt.Sprintf("%.3f cores", v)
	case perf.UnitBytes:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	return fmtFloat(v) + " " + unit
}

// resourceRows are the resource section's lines: each role's mean and max over the
// measured window, or why it is missing; then the MUE where the data allows, and a
// count of the run's other Prometheus queries.
func resourceRows(r *smp.Result) [][2]string {
	m := r.Metrics
	if m == nil {
		return nil
	}
	var rows [][2]string
	if m.AssumedMesh != "" {
		rows = append(rows, [2]string{"mesh", m.AssumedMesh + " (assumed: found in the run's cluster; the config named none)"})
	}
	for _, f := range m.Resources() {
		if f.Status != smp.MetricsOK {
			rows = append(rows, [2]string{roleLabels[f.Role], "missing: " + f.Reason})
			continue
		}
		rows = append(rows, [2]string{roleLabels[f.Role], fmt.Sprintf("mean %s  max %s", resourceValue(f.Mean, f.Unit), resourceValue(f.Max, f.Unit))})
	}
	if mue, ok := smp.MeshUtilizationEfficiency(r); ok {
		rows = append(rows, [2]string{"MUE", fmt.Sprintf("%s req/s per mesh core (rps ÷ proxy and control-plane cores)", fmtFloat(mue))})
	}
	ok, missing := 0, 0
	for _, q := range m.Queries {
		if q.Role != "" {
			continue
		}
		if q.Status == smp.MetricsOK {
			ok++
		} else {
			missing++
		}
	}
	if ok+missing > 0 {
		rows = append(rows, [2]string{"other queries", fmt.Sprintf("%d ok, %d missing (step %v, from %s)", ok, missing, m.Step, m.Source)})
	}
	return rows
}

// resourcesSummary writes the terminal summary's resource section.
func resourcesSummary(w io.Writer, r *smp.Result) {
	rows := resourceRows(r)
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n  %s\n", "resources (Prometheus, over the measured window)")
	for _, row := range rows {
		fmt.Fprintf(w, "  %s %s\n", dots(row[0], 20), row[1])
	}
}

// resourcesMarkdown writes the Markdown summary's resource table.
func resourcesMarkdown(w io.Writer, r *smp.Result) {
	rows := resourceRows(r)
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "| resource | over the measured window |")
	fmt.Fprintln(w, "|---|---|")
	for _, row := range rows {
		fmt.Fprintf(w, "| %s | %s |\n", row[0], strings.ReplaceAll(row[1], "|", "\\|"))
	}
	fmt.Fprintln(w)
}
