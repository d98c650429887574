package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/meshperf/meshperf/internal/promtest"
)

// startBrowser starts Debian's chromium, headless; its console is collected.
func startBrowser(t *testing.T) (context.Context, func() []chromedp.ConsoleMessage) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("the browser tests need Debian's chromium (apt-get install chromium): ", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun, chromedp.Flag("disable-quic", true), chromedp.WindowSize(1280, 860))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	var mu sync.Mutex
	var messages []chromedp.ConsoleMessage
	if err := chromedp.Do(ctx); err != nil { // start the browser and its tab
		t.Fatal(err)
	}
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			mu.Lock()
			messages = append(messages, m)
			mu.Unlock()
		}
	}()
	return ctx, func() []chromedp.ConsoleMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]chromedp.ConsoleMessage(nil), messages...)
	}
}

// waitFor evaluates a JavaScript condition until it holds, for at most d. (chromedp's
// Poll compiles its predicate with new Function, which the UI's CSP forbids.)
func waitFor(t *testing.T, ctx context.Context, what, cond string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText.slice(0, 600)"))
			t.Fatalf("waited %v for %s (%v); the page says:\n%s", d, what, err, body)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitForFile returns the content of the first complete file named *ext in dir.
func waitForFile(t *testing.T, dir, ext string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		matches, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
		if len(matches) > 0 {
			if b, err := os.ReadFile(matches[0]); err == nil && len(b) > 0 {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			all, _ := filepath.Glob(filepath.Join(dir, "*"))
			t.Fatalf("no %s file in %s after %v (there: %v)", ext, dir, d, all)
		}
		time.Sleep(50 * time.Millisecond) // a file appearing has no event to wait on
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// artifacts is where screenshots go: $MESHPERF_ARTIFACTS/webui, or a temporary directory.
func artifacts(t *testing.T) string {
	dir := t.TempDir()
	if base := os.Getenv("MESHPERF_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, "webui")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// points is how many points a chart drew (its container says it); -1 when absent.
func points(name string) string {
	return fmt.Sprintf(`(() => { const f = document.querySelector('figure[data-chart=%q]'); return f && f.querySelector('canvas') ? +f.dataset.points : -1 })()`, name)
}

// TestBrowser drives the UI in a real browser against a real server and target: log in,
// the overview, a profile's YAML with the server's errors at their lines, run it and
// watch the live chart grow, open the result, compare three results; no console errors.
func TestBrowser(t *testing.T) {
	l := startLab(t)
	// A real Prometheus scrapes the target: its runs keep series (the target's own
	// process stands in for a mesh's proxies and control plane).
	l.prom = promtest.Start(t, promtest.Target{Job: "target", Addr: strings.TrimPrefix(l.target, "http://")})
	l.prom.WaitFor(t, `up{job="target"}`, "job", 20*time.Second, func(m map[string]float64) bool { return m["target"] == 1 })
	l.call(t, "POST", "/api/v1/connections", map[string]any{"kind": "prometheus", "name": "prom", "url": l.prom.URL})
	profile := l.config("/live", 6) // two clients: two sources, shown apart while the run is live
	profile["clients"] = append(profile["clients"].([]map[string]any), map[string]any{"endpoint_urls": []string{l.target + "/live2"}, "rps": 40, "connections": 2})
	l.call(t, "POST", "/api/v1/profiles", map[string]any{"name": "browser", "config": profile})
	var metricRuns []string
	for _, p := range []string{"/a", "/b"} { // two more results to compare, with Prometheus series, run meanwhile
		run := l.call(t, "POST", "/api/v1/runs", map[string]any{"config": l.withMetrics(l.config(p, 3))})
		metricRuns = append(metricRuns, run["id"].(string))
	}
	ctx, console := startBrowser(t)
	shots := artifacts(t)

	// Log in: a wrong token is refused, the right one opens the overview.
	do(t, ctx, chromedp.Navigate(l.url+"/"))
	waitFor(t, ctx, "the login page", `document.querySelector('#login input[name=token]')`, 10*time.Second)
	screenshot(t, ctx, shots, "login")
	do(t, ctx, chromedp.SendKeys(chromedp.CSS(`#login input[name=token]`), "not-a-token"), chromedp.Click(chromedp.CSS(`#login button`)))
	waitFor(t, ctx, "the refusal", `document.querySelector('#login [role=alert]')?.textContent.includes('not valid')`, 10*time.Second)
	eval[bool](t, ctx, `(() => { document.querySelector('#login input[name=token]').value = ''; return true })()`)
	do(t, ctx, chromedp.SendKeys(chromedp.CSS(`#login input[name=token]`), browserToken), chromedp.Click(chromedp.CSS(`#login button`)))
	waitFor(t, ctx, "the overview", `document.querySelector('#overview') && document.body.innerText.includes('Recent runs')`, 10*time.Second)
	if stored := eval[string](t, ctx, `sessionStorage.getItem('meshperf.token') + '|' + (localStorage.getItem('meshperf.token') || '')`); stored != browserToken+"|" {
		t.Errorf("the token must live in sessionStorage only; storage holds %q", stored)
	}
	screenshot(t, ctx, shots, "overview")

	// The profile's YAML: the server's validation error is shown at its line.
	do(t, ctx, chromedp.Navigate(l.url+"/profiles/browser"))
	waitFor(t, ctx, "the profile's YAML", `document.querySelector('#yaml')?.value.includes('endpoint_urls')`, 10*time.Second)
	bad := "name: browser\ndescription: edited in a browser\nconfig:\n  labels:\n    suite: browser\n  duration: 6s\n  warmup: 0s\n  clients:\n    - endpoint_urls: [\"" + l.target + "/live\"]\n      rps: -5\n      connections: 2\n" +
		"    - endpoint_urls: [\"" + l.target + "/live2\"]\n      rps: 40\n      connections: 2\n"
	setYAML := func(text string) {
		t.Helper()
		js, _ := json.Marshal(text)
		eval[bool](t, ctx, `(() => { const ta = document.querySelector('#yaml'); ta.value = `+string(js)+`; ta.dispatchEvent(new Event('input', { bubbles: true })); return true })()`)
	}
	setYAML(bad)
	do(t, ctx, chromedp.Click(chromedp.ID("save")))
	waitFor(t, ctx, "the server's errors", `document.querySelector('#problems')`, 10*time.Second)
	problems := eval[string](t, ctx, `document.querySelector('#problems').innerText`)
	marked := eval[string](t, ctx, `[...document.querySelectorAll('.gutter .mark')].map(e => e.textContent.trim()).join(',')`)
	if !strings.Contains(problems, "line 10") || !strings.Contains(problems, "config.clients[0].rps") || marked != "10" {
		t.Errorf("the error on rps (line 10) is shown as %q, lines marked %q", problems, marked)
	}
	screenshot(t, ctx, shots, "profile-errors")
	setYAML(strings.Replace(bad, "rps: -5", "rps: 30", 1)) // a change: a new version
	do(t, ctx, chromedp.Click(chromedp.ID("save")))
	waitFor(t, ctx, "the new version", `document.querySelector('#message')?.textContent.includes('Saved version 2')`, 10*time.Second)
	do(t, ctx, chromedp.Click(chromedp.CSS(`a[href$="?diff=2"]`)))
	waitFor(t, ctx, "the versions' diff", `document.querySelector('#version-diff')`, 10*time.Second)
	added := eval[string](t, ctx, `[...document.querySelectorAll('#version-diff .add')].map(e => e.textContent.trim()).join('|')`)
	removed := eval[string](t, ctx, `[...document.querySelectorAll('#version-diff .del')].map(e => e.textContent.trim()).join('|')`)
	if !strings.Contains(added, "rps: 30") || !strings.Contains(removed, "rps: 40") || strings.Contains(added+removed, "endpoint_urls") {
		t.Errorf("the diff of versions 1 and 2: added %q, removed %q", added, removed)
	}

	// Run now, with an override: the live chart grows over SSE.
	do(t, ctx, chromedp.SendKeys(chromedp.CSS(`.actions .run input`), "5s"), chromedp.Click(chromedp.ID("run-now")))
	waitFor(t, ctx, "the run's page", `location.pathname.startsWith('/runs/')`, 10*time.Second)
	runID := strings.TrimPrefix(eval[string](t, ctx, `location.pathname`), "/runs/")
	if run := l.call(t, "GET", "/api/v1/runs/"+runID, nil); fmt.Sprint(run["overrides"]) != "map[duration:5s]" || run["profile_version"] != float64(2) {
		t.Errorf("the run started from the page: overrides %v, version %v", run["overrides"], run["profile_version"])
	}
	waitFor(t, ctx, "the live chart's first points", points("live-latency")+` >= 1`, 20*time.Second)
	first := eval[int](t, ctx, points("live-latency"))
	waitFor(t, ctx, "the live chart to grow", fmt.Sprintf(`%s > %d && %s > %d`, points("live-latency"), first, points("live-rate"), first), 10*time.Second)
	waitFor(t, ctx, "each source's share", `document.querySelectorAll('#per-source tr[data-source]').length === 2 && `+points("live-per-source")+` >= 1`, 10*time.Second)
	if shares := eval[string](t, ctx, `[...document.querySelectorAll('#per-source tr[data-source]')].map(r => r.dataset.source).join()`); shares == "" || strings.Count(shares, ",") != 1 {
		t.Errorf("the sources shown apart: %q", shares)
	}
	screenshot(t, ctx, shots, "run-live")
	waitFor(t, ctx, "the run's end", `document.querySelector('#open-result')`, 30*time.Second)
	if status := eval[string](t, ctx, `document.querySelector('#run-status').textContent`); status != "completed" {
		t.Errorf("the run ended %q", status)
	}

	// One result: every chart drawn from the stored histograms.
	do(t, ctx, chromedp.Click(chromedp.ID("open-result")))
	for chart, least := range map[string]int{"latency-over-time": 3, "rate-over-time": 3, "percentiles": 20, "histogram": 3} {
		waitFor(t, ctx, "the result's "+chart, fmt.Sprintf(`%s >= %d`, points(chart), least), 10*time.Second)
	}
	// the status codes table lists 200; the downloads are offered
	if text := eval[string](t, ctx, `document.querySelector('#result').innerText`); !strings.Contains(text, "200") || !strings.Contains(text, "Download SMP") {
		t.Errorf("the result view: %.400s", text)
	}
	screenshot(t, ctx, shots, "result")
	// A download carries the token (a link could not): the CSV arrives as a file.
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: "allow", DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`#result .actions button:nth-child(3)`)))
	csv := waitForFile(t, downloads, ".csv", 10*time.Second)
	if !strings.HasPrefix(csv, "source,second,") || strings.Count(csv, "\n") < 5 {
		t.Errorf("the downloaded CSV: %.300s", csv)
	}

	// A result with Prometheus series: a chart per query that found some, the missing
	// one with its reason, the resource section.
	metricResult := l.waitResult(t, metricRuns[0], 30*time.Second)
	do(t, ctx, chromedp.Navigate(l.url+"/results/"+metricResult))
	waitFor(t, ctx, "the target's CPU and memory series", points("metric-target_cpu")+` >= 2 && `+points("metric-target_memory")+` >= 2`, 10*time.Second)
	if n := eval[string](t, ctx, `document.querySelector('figure[data-chart="metric-target_requests"]')?.dataset.series`); n == "" || n == "0" {
		t.Errorf("the query of the run's own drew %q series", n)
	}
	if missing := eval[string](t, ctx, `document.querySelector('#metrics-missing')?.innerText || ''`); !strings.Contains(missing, "control_plane_cpu") || !strings.Contains(missing, "missing") {
		t.Errorf("the query that matched nothing is shown as %q", missing)
	}
	resources := eval[string](t, ctx, `[...document.querySelectorAll('#resources tr[data-role]')].map(r => r.dataset.role + ':' + r.innerText.replace(/\s+/g, ' ')).join('|')`)
	if !strings.Contains(resources, "proxy_cpu:proxy CPU target_cpu") || !strings.Contains(resources, "cores") || !strings.Contains(resources, "MiB") ||
		!strings.Contains(resources, "control_plane_cpu:") || !strings.Contains(resources, "missing") {
		t.Errorf("the resource section: %s", resources)
	}
	eval[bool](t, ctx, `(() => { document.querySelector('#resources').scrollIntoView(); scrollBy(0, -70); return true })()`)
	screenshot(t, ctx, shots, "result-prometheus")

	// Compare three results: three curves, the baseline solid.
	do(t, ctx, chromedp.Navigate(l.url+"/results?label=suite%3Dbrowser"))
	waitFor(t, ctx, "three results", `document.querySelectorAll('#results input.pick').length === 3`, 15*time.Second)
	for i := 1; i <= 3; i++ {
		do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#results tbody tr:nth-child(%d) input.pick`, i))))
	}
	do(t, ctx, chromedp.Click(chromedp.ID("compare")))
	waitFor(t, ctx, "the comparison's curves", points("compare-percentiles")+` >= 20 && document.querySelector('figure[data-chart="compare-percentiles"]').dataset.series === '3'`, 15*time.Second)
	waitFor(t, ctx, "the comparison's series", points("compare-p99")+` >= 2`, 5*time.Second)
	if link := eval[string](t, ctx, `location.pathname + location.search`); strings.Count(link, ",") != 2 || !strings.HasPrefix(link, "/compare?ids=") {
		t.Fatalf("the comparison's link %q", link)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#compare-view .changes').length`); n != 2 {
		t.Errorf("%d tables of changes, want 2 (each candidate against the baseline)", n)
	}
	if drawn := eval[int](t, ctx, `(() => { // pixels the curves' colours cover on the canvas
		const c = document.querySelector('figure[data-chart="compare-percentiles"] canvas');
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2])) n++;
		return n })()`); drawn < 200 {
		t.Errorf("the comparison's canvas has %d coloured pixels: no curves drawn", drawn)
	}
	screenshot(t, ctx, shots, "compare")
	// Resources side by side: the two runs with series measured the target's CPU, the
	// live run (no metrics) did not.
	waitFor(t, ctx, "the resources side by side", `document.querySelector('#compare-resources tr[data-role=proxy_cpu]')`, 10*time.Second)
	cpu := eval[string](t, ctx, `document.querySelector('#compare-resources tr[data-role=proxy_cpu]').innerText`)
	if strings.Count(cpu, "cores") != 4 || strings.Count(cpu, "not measured") != 1 { // mean and max each
		t.Errorf("proxy CPU side by side: %q", cpu)
	}
	eval[bool](t, ctx, `(() => { document.querySelector('#compare-resources').scrollIntoView(); scrollBy(0, -70); return true })()`)
	screenshot(t, ctx, shots, "compare-resources")
	eval[bool](t, ctx, `(() => { scrollTo(0, 0); return true })()`)
	ids := strings.Split(strings.TrimPrefix(eval[string](t, ctx, `location.search`), "?ids="), ",")
	do(t, ctx, chromedp.Click(chromedp.CSS(`#compare-table a.baseline`)))
	waitFor(t, ctx, "the second result as the baseline", fmt.Sprintf(`location.search === '?ids=%s,%s,%s' && document.querySelector('#compare-table thead th:nth-child(2) a').getAttribute('href') === '/results/%s' && %s >= 20`,
		ids[1], ids[0], ids[2], ids[1], points("compare-percentiles")), 10*time.Second)
	do(t, ctx, chromedp.Click(chromedp.ID("theme")))
	theme := eval[string](t, ctx, `document.documentElement.dataset.theme`)
	waitFor(t, ctx, "the charts redrawn in the other theme", points("compare-percentiles")+` >= 20`, 5*time.Second)
	screenshot(t, ctx, shots, "compare-"+theme)

	// The profile's trend (its one result), the metric in the address.
	do(t, ctx, chromedp.Navigate(l.url+"/profiles/browser?metric=p50"))
	waitFor(t, ctx, "the profile's trend", points("trend")+` >= 1 && document.querySelector('#trend select').value === 'p50'`, 10*time.Second)

	// A schedule made in the form, then its page.
	do(t, ctx, chromedp.Navigate(l.url+"/schedules"))
	waitFor(t, ctx, "the schedule form", `document.querySelector('#new-schedule select[name=profile] option')`, 10*time.Second)
	do(t, ctx, chromedp.SendKeys(chromedp.CSS(`#new-schedule input[name=name]`), "hourly"),
		chromedp.SendKeys(chromedp.CSS(`#new-schedule input[name=cron]`), "@every 1h"), chromedp.Click(chromedp.CSS(`#new-schedule button`)))
	waitFor(t, ctx, "the new schedule", `document.querySelector('#schedules table a[href^="/schedules?open="]')?.textContent === 'hourly'`, 10*time.Second)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#schedules table a[href^="/schedules?open="]`)))
	waitFor(t, ctx, "the schedule's page", `document.querySelector('#schedule-history')?.innerText.includes('Next:')`, 10*time.Second)
	screenshot(t, ctx, shots, "schedules")

	// Clusters: none here, said so (TestBrowserClusters opens a real one).
	do(t, ctx, chromedp.Navigate(l.url+"/clusters"))
	waitFor(t, ctx, "the clusters page", `document.querySelector('#clusters')?.innerText.includes('No clusters')`, 10*time.Second)
	// A cluster's page for an unknown cluster: each part says what the API answered.
	do(t, ctx, chromedp.Navigate(l.url+"/clusters?open=no-such-cluster&kind=ConfigMap"))
	waitFor(t, ctx, "the unknown cluster's page", `document.querySelector('#discovery p.muted')?.textContent.includes('no such') && document.querySelector('#meshes p.muted') &&
		document.querySelector('#inventory p.error') && document.querySelector('#inventory-filters input[name=kind]').value === 'ConfigMap'`, 10*time.Second)

	// Nothing went wrong in the page: no exceptions, no console errors (the one
	// expected failure is the refused token's 401 and the invalid profile's 400).
	for _, m := range console() {
		expected := strings.Contains(m.Text, "status of 401") && strings.Contains(m.URL, "/api/v1/whoami") ||
			strings.Contains(m.Text, "status of 400") && strings.Contains(m.URL, "/api/v1/profiles/browser") ||
			strings.Contains(m.Text, "status of 4") && strings.Contains(m.URL, "no-such-cluster")
		if (m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException) && !expected {
			t.Errorf("console %s at %s:%d: %s", m.Type, m.URL, m.Line+1, m.Text)
		}
	}
}
