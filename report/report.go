// Package report renders results for people: the end-of-run summary and the live
// progress line. Machines read smp's writers instead.
package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

// Style says whether the output may use colour and symbols meant for terminals.
type Style struct {
	Color bool
}

func (s Style) paint(code, text string) string {
	if !s.Color {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// Summary writes the end-of-run summary: what ran, then the figures a person looks
// for first (rate, success, latency percentiles), then health and warnings.
func Summary(w io.Writer, r *smp.Result, st Style) {
	s := r.Summary
	status := string(r.Status)
	switch r.Status {
	case smp.StatusCompleted:
		status = st.paint("32", "completed")
	case smp.StatusPartial:
		status = st.paint("33", "partial")
	case smp.StatusFailed:
		status = st.paint("31", "failed")
	}
	name := r.Name
	if name == "" {
		name = "run " + shortID(r.ID)
	}
	warm := ""
	if d := r.MeasureStart.Sub(r.StartTime); d > 0 {
		warm = fmt.Sprintf(" (+%v warm-up)", d.Round(time.Second))
	}
	fmt.Fprintf(w, "\n  %s — %s, measured %.1fs%s\n", st.paint("1", name), status, s.DurationSeconds, warm)
	if r.StatusReason != "" {
		fmt.Fprintf(w, "  %s\n", r.StatusReason)
	}
	if r.Config != nil {
		for i, c := range r.Config.Clients {
			fmt.Fprintf(w, "  %s\n", describeClient(&c, i, len(r.Config.Clients)))
		}
	}
	fmt.Fprintln(w)
	row := func(label, value string) { fmt.Fprintf(w, "  %s %s\n", dots(label, 20), value) }
	rate := fmt.Sprintf("%-10s %s/s", group(s.Requests), fmtFloat(s.ActualRPS))
	if s.TargetRPS > 0 {
		rate += fmt.Sprintf(" (target %s/s)", fmtFloat(s.TargetRPS))
	}
	row("requests", rate)
	succ := fmt.Sprintf("%-10s %s", pct(1-s.ErrorRate), codes(s.StatusCodes))
	if s.ErrorRate > 0 {
		succ = st.paint("33", succ)
	}
	row("success", succ)
	if len(s.Errors) > 0 {
		row("errors", st.paint("31", counts(s.Errors)))
	}
	l := s.Latency
	if l.Count > 0 {
		row("latency", fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s",
			ms(l.P50Ms), ms(l.P90Ms), st.paint("1", ms(l.P99Ms)), ms(l.P999Ms), ms(l.MaxMs)))
		row("", fmt.Sprintf("min %s  mean %s  stddev %s  p99.99 %s", ms(l.MinMs), ms(l.MeanMs), ms(l.StdDevMs), ms(l.P9999Ms)))
	}
	if len(r.Thresholds) > 0 {
		passed := 0
		for _, t := range r.Thresholds {
			if t.OK {
				passed++
			}
		}
		head := fmt.Sprintf("%d of %d passed", passed, len(r.Thresholds))
		if passed < len(r.Thresholds) {
			head = st.paint("31", head)
		}
		row("thresholds", head)
		for _, t := range r.Thresholds {
			mark, note := st.paint("32", "✓"), ""
			if !t.OK {
				mark = st.paint("31", "✗")
			}
			if t.Aborted {
				note = "  (stopped the run)"
			}
			fmt.Fprintf(w, "    %s %s observed %s%s\n", mark, dots(t.Expr, 26), t.Observed, note)
		}
	}
	g := r.Generator
	if g.SendLag.Count > 0 {
		row("send lag", fmt.Sprintf("p50 %s  p99 %s  max %s", ms(g.SendLag.P50Ms), ms(g.SendLag.P99Ms), ms(g.SendLag.MaxMs)))
	}
	row("data", fmt.Sprintf("sent %s  received %s", bytesHuman(s.BytesSent), bytesHuman(s.BytesReceived)))
	row("generator", generatorHealth(st, g))
	if len(g.Generators) > 1 {
		for _, ag := range g.Generators {
			row("  "+ag.Name, generatorHealth(st, ag))
		}
	}
	if len(r.Sources) > 1 {
		fmt.Fprintf(w, "\n  %-16s %10s %10s %8s %10s %10s\n", "source", "requests", "req/s", "success", "p50", "p99")
		for _, src := range r.Sources {
			ss := src.Summary
			fmt.Fprintf(w, "  %-16s %10s %10s %8s %10s %10s\n", src.Source, group(ss.Requests), fmtFloat(ss.ActualRPS),
				pct(1-ss.ErrorRate), ms(ss.Latency.P50Ms), ms(ss.Latency.P99Ms))
		}
	}
	resourcesSummary(w, r)
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "\n  %s %s", st.paint("33", "!"), warn)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

func describeClient(c *smp.Client, i, n int) string {
	var b strings.Builder
	if n > 1 {
		b.WriteString(c.ClientName(i) + ": ")
	}
	b.WriteString(strings.Join(c.EndpointURLs, ", "))
	b.WriteString(" · " + c.LoadGenerator + " · " + strings.ToLower(c.Protocol.String()))
	if c.Protocol == smp.ProtocolHTTP && c.HTTPVersion == "2" {
		b.WriteString("/2")
	}
	if c.Protocol == smp.ProtocolGRPC {
		b.WriteString(" " + c.GRPC.Method())
	}
	switch {
	case len(c.Stages) > 0:
		b.WriteString(fmt.Sprintf(" · %s model, %d stages", c.Model, len(c.Stages)))
	case c.RPS > 0:
		b.WriteString(fmt.Sprintf(" · %s model at %d req/s", c.Model, c.RPS))
	default:
		b.WriteString(" · closed model, as fast as possible")
	}
	b.WriteString(fmt.Sprintf(" · %d connections", c.Connections))
	return b.String()
}

// Progress renders one live line. On a terminal it carries a bar; elsewhere it is
// plain text with no control characters.
func Progress(p perf.Progress, tty bool) string {
	frac := 0.0
	if p.Total > 0 {
		frac = min(1, float64(p.Elapsed)/float64(p.Total))
	}
	phase := ""
	if p.Warmup {
		phase = " warm-up"
	}
	figures := fmt.Sprintf("%8s req/s  p50 %-9s p99 %-9s failures %s%s", fmtFloat(p.RPS), ms(p.P50Ms), ms(p.P99Ms), group(p.Failures), phase)
	clock := fmt.Sprintf("%5s/%s", shortDur(p.Elapsed), shortDur(p.Total))
	if !tty {
		return fmt.Sprintf("[%s] %s", clock, figures)
	}
	const width = 20
	full := int(frac * width)
	bar := strings.Repeat("█", full) + strings.Repeat("░", width-full)
	return fmt.Sprintf("%s %s %3.0f%%  %s", clock, bar, frac*100, figures)
}

func shortDur(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return strconv.Itoa(int(d.Seconds())) + "s"
	}
	return d.String()
}

func dots(label string, width int) string {
	if label == "" {
		return strings.Repeat(" ", width)
	}
	if len(label)+2 >= width {
		return label
	}
	return label + " " + strings.Repeat(".", width-len(label)-1)
}

// ms formats milliseconds with a unit that keeps three significant digits.
func ms(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000:
		return strconv.FormatFloat(v/1000, 'f', 2, 64) + "s"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(v*1000, 'f', 0, 64) + "µs"
}

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 2, 64) + "%" }

func fmtFloat(v float64) string {
	if v >= 100 {
		return group(int64(v + 0.5))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// group writes 12345 as 12,345.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func codes(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	return counts(m)
}

func counts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || (m[keys[i]] == m[keys[j]] && keys[i] < keys[j]) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s × %s", group(m[k]), k)
	}
	return strings.Join(parts, ", ")
}

func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// ResultMarkdown writes a result as a Markdown section (for GitHub job summaries).
func ResultMarkdown(w io.Writer, r *smp.Result) {
	s := r.Summary
	name := r.Name
	if name == "" {
		name = "run " + shortID(r.ID)
	}
	verdict := "✅"
	for _, t := range r.Thresholds {
		if !t.OK {
			verdict = "❌"
		}
	}
	if r.Status != smp.StatusCompleted && verdict == "✅" {
		verdict = "⚠️"
	}
	fmt.Fprintf(w, "### meshperf: %s %s — %s\n\n", verdict, name, r.Status)
	if r.StatusReason != "" {
		fmt.Fprintf(w, "%s\n\n", r.StatusReason)
	}
	fmt.Fprintln(w, "| requests | rate | success | p50 | p90 | p99 | p99.9 | max |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	l := s.Latency
	fmt.Fprintf(w, "| %s | %s/s | %s | %s | %s | %s | %s | %s |\n\n", group(s.Requests), fmtFloat(s.ActualRPS), pct(1-s.ErrorRate),
		ms(l.P50Ms), ms(l.P90Ms), ms(l.P99Ms), ms(l.P999Ms), ms(l.MaxMs))
	if len(r.Thresholds) > 0 {
		fmt.Fprintln(w, "| threshold | observed | |")
		fmt.Fprintln(w, "|---|---:|---|")
		for _, t := range r.Thresholds {
			mark := "✅"
			if !t.OK {
				mark = "❌"
			}
			fmt.Fprintf(w, "| `%s` | %s | %s |\n", t.Expr, t.Observed, mark)
		}
		fmt.Fprintln(w)
	}
	resourcesMarkdown(w, r)
	if r.Generator.Saturated {
		fmt.Fprintf(w, "> ⚠️ generator saturated: %s\n\n", r.Generator.Reason)
	}
}

// generatorHealth is one line on a generator (or all of them). Without recorded
// health it says so: "kept its schedule" is a claim only the figures may make.
func generatorHealth(st Style, g smp.GeneratorReport) string {
	var health string
	switch {
	case !g.Measured && g.Saturated:
		health = st.paint("31", "SATURATED") + " (CPU and scheduling unknown)"
	case !g.Measured:
		health = "generator health unknown (CPU and scheduling not recorded)"
	default:
		health = fmt.Sprintf("%.2f cores", g.CPUCores)
		if g.UsableCores > 0 {
			health += fmt.Sprintf(" of %d", g.UsableCores)
		}
		health += ", scheduling p99 " + ms(g.SchedLatencyP99Ms)
		if g.Saturated {
			health += ", " + st.paint("31", "SATURATED")
		} else {
			health += ", kept its schedule"
		}
	}
	if g.MissedSends > 0 {
		health += fmt.Sprintf(", %d missed sends", g.MissedSends)
	}
	return health
}
