package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	smpspec "github.com/layer5io/service-mesh-performance/spec"

	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/smp"
)

var bin string

// TestMain builds the real binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meshperf-cli")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "meshperf")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic("build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type run struct {
	stdout, stderr string
	code           int
}

func meshperf(t *testing.T, args ...string) run {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return run{out.String(), errb.String(), code}
}

func startTarget(t *testing.T) string {
	srv, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv.URL()
}

func TestRunJSONToStdoutSummaryToStderr(t *testing.T) {
	url := startTarget(t)
	r := meshperf(t, "run", "--url", url+"/j", "--rate", "100", "--duration", "1s", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	res, err := smp.DecodeResult([]byte(r.stdout))
	if err != nil {
		t.Fatalf("stdout is not a result: %v\n%s", err, r.stdout)
	}
	if res.Summary.Requests != 100 || res.Status != smp.StatusCompleted || len(res.Intervals) == 0 {
		t.Errorf("result: %d requests, %s", res.Summary.Requests, res.Status)
	}
	if !strings.Contains(r.stderr, "requests") || !strings.Contains(r.stderr, "p99") {
		t.Errorf("no summary on stderr:\n%s", r.stderr)
	}
	if strings.ContainsAny(r.stderr, "\x1b\r") {
		t.Errorf("control characters written to a non-terminal:\n%q", r.stderr)
	}
}

func TestRunWritesSMPAndDetails(t *testing.T) {
	url := startTarget(t)
	dir := t.TempDir()
	smpFile, full := filepath.Join(dir, "r.smp.yaml"), filepath.Join(dir, "full.json")
	r := meshperf(t, "run", "--url", url, "--rate", "50", "--duration", "1s", "--name", "cli", "--label", "team=perf",
		"--out", smpFile, "--details", full)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "cli — completed") {
		t.Errorf("summary missing on stdout:\n%s", r.stdout)
	}
	b, err := os.ReadFile(smpFile)
	if err != nil {
		t.Fatal(err)
	}
	var p smpspec.PerformanceTestResult
	if err := smp.UnmarshalSMP(b, &p); err != nil {
		t.Fatalf("not SMP: %v\n%s", err, b)
	}
	if p.GetDetailsUri() != "file://"+full || p.GetLabels()["team"] != "perf" || p.GetActualQps() < 45 || p.GetId() == "" || p.GetTestId() == "" {
		t.Errorf("SMP result %v", &p)
	}
	fb, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	res, err := smp.DecodeResult(fb)
	if err != nil || res.ID != p.GetId() {
		t.Fatalf("details file: %v (id %q vs %q)", err, res.ID, p.GetId())
	}
}

func TestCSVOutput(t *testing.T) {
	url := startTarget(t)
	r := meshperf(t, "run", "--url", url, "--rate", "20", "--duration", "2s", "-o", "csv", "-q")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) < 3 || !strings.HasPrefix(lines[0], "source,second,") {
		t.Fatalf("exit %d csv:\n%s", r.code, r.stdout)
	}
}

func TestBadInputExitsTwoNamingTheField(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("duration: 5s\nclients:\n  - endpoint_urls: [http://x/]\n    conections: 3\n"), 0o600)
	vegGRPC := filepath.Join(dir, "veg.yaml")
	os.WriteFile(vegGRPC, []byte("clients:\n  - load_generator: vegeta\n    protocol: GRPC\n    endpoint_urls: [\"127.0.0.1:1\"]\n"), 0o600)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--no-such-flag"}, "unknown flag"},
		{[]string{"run"}, "--url"},
		{[]string{"run", "-f", bad}, `clients[0].conections (line 4): unknown field "conections"; did you mean "connections"?`},
		{[]string{"run", "-f", vegGRPC}, "clients[0].protocol"},
		{[]string{"run", "--url", "http://x/", "--output", "pdf"}, "--output"},
		{[]string{"run", "--url", "ftp://x/"}, "clients[0].endpoint_urls[0]"},
		{[]string{"run", "--url", "http://x/", "--duration", "soon"}, "--duration"},
		{[]string{"run", "-f", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{[]string{"target", "--latency", "gaussian:1ms"}, "--latency"},
	}
	for _, tc := range cases {
		r := meshperf(t, tc.args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", tc.args, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: stderr does not mention %q:\n%s", tc.args, tc.want, r.stderr)
		}
	}
}

func TestCannotRunExitsOne(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	// The file exists (validation passes) but holds no certificate: the engine
	// cannot start, so nothing runs.
	r := meshperf(t, "run", "--engine", "vegeta", "--url", "https://127.0.0.1:1/", "--ca-cert", notPEM, "--duration", "1s", "-q")
	if r.code != 1 || !strings.Contains(r.stderr, "no client could run") {
		t.Errorf("exit %d, want 1:\n%s", r.code, r.stderr)
	}
	r = meshperf(t, "run", "--url", "http://127.0.0.1:1/", "--duration", "1s", "-q", "--details", "/nonexistent-dir/x.json")
	if r.code != 1 || !strings.Contains(r.stderr, "--details") {
		t.Errorf("unwritable --details: exit %d, want 1:\n%s", r.code, r.stderr)
	}
}

// Ctrl-C stops the run, still writes the result marked partial, and exits 130.
func TestInterruptKeepsPartialResult(t *testing.T) {
	url := startTarget(t)
	out := filepath.Join(t.TempDir(), "partial.json")
	cmd := exec.Command(bin, "run", "--url", url, "--rate", "100", "--duration", "30s", "--out", out)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\n%s", err, errb.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := smp.DecodeResult(b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != smp.StatusPartial || res.Summary.Requests < 100 || res.Summary.Requests > 200 {
		t.Errorf("status %s, %d requests", res.Status, res.Summary.Requests)
	}
}

func TestVersion(t *testing.T) {
	r := meshperf(t, "version")
	if r.code != 0 || !strings.Contains(r.stdout, "meshperf") || !strings.Contains(r.stdout, "fortio") || !strings.Contains(r.stdout, "vegeta") {
		t.Errorf("version: %d %s", r.code, r.stdout)
	}
}

// A failed threshold exits 3 (after writing the result); all passing exits 0.
func TestThresholdExitCodes(t *testing.T) {
	url := startTarget(t)
	r := meshperf(t, "run", "--url", url, "--rate", "50", "--duration", "1s", "-o", "json",
		"--threshold", "p99 < 1s", "--threshold", "requests > 1000000")
	if r.code != 3 || !strings.Contains(r.stderr, "thresholds failed: requests > 1000000 (observed 50)") {
		t.Fatalf("exit %d, want 3:\n%s", r.code, r.stderr)
	}
	res, err := smp.DecodeResult([]byte(r.stdout))
	if err != nil || len(res.Thresholds) != 2 || !res.Thresholds[0].OK || res.Thresholds[1].OK {
		t.Errorf("result thresholds: %v %+v", err, res)
	}
	if r := meshperf(t, "run", "--url", url, "--rate", "50", "--duration", "1s", "-q", "--threshold", "error_rate < 1%"); r.code != 0 {
		t.Errorf("passing thresholds: exit %d\n%s", r.code, r.stderr)
	}
	if r := meshperf(t, "run", "--url", url, "--threshold", "p99 < fast"); r.code != 2 || !strings.Contains(r.stderr, "--threshold") {
		t.Errorf("bad threshold: exit %d\n%s", r.code, r.stderr)
	}
}

// compare: two real runs against the target, 10 ms vs 50 ms of injected latency: the
// latency percentiles come out worse with intervals above zero, the rate unchanged.
// The effect is five-fold, not +20%: 5 ms vs 6 ms failed with p90 "ratio lo 0.973" on
// a loaded 2-core machine, and even 10 ms vs 20 ms once gave "ratio lo 0.625" at a
// load average of 12, when timer and scheduling delays of tens of ms hit one side's
// seconds. Only delays past 40 ms for a tenth of a second's requests could close this
// gap. How small an effect the comparison resolves is a measurement (benchmarks and
// hack/evalgate), not a behaviour test.
func TestCompareFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("12 s of real load; runs in the main pass")
	}
	url := startTarget(t)
	dir := t.TempDir()
	for name, lat := range map[string]string{"a.json": "fixed:10ms", "b.json": "fixed:50ms"} {
		r := meshperf(t, "run", "--url", url+"/?latency="+lat, "--rate", "100", "-c", "16", "--duration", "6s", "-q", "--out", filepath.Join(dir, name))
		if r.code != 0 {
			t.Fatalf("run: %d %s", r.code, r.stderr)
		}
	}
	r := meshperf(t, "compare", filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json"), "-o", "json")
	var pairs []struct {
		Changes []struct {
			Metric, Verdict string
			RatioLo         float64 `json:"ratio_lo"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &pairs); err != nil || len(pairs) != 1 {
		t.Fatalf("compare -o json: %v %s %s", err, r.stdout, r.stderr)
	}
	defer func() {
		if t.Failed() {
			t.Log(meshperf(t, "compare", filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")).stdout)
		}
	}()
	for _, c := range pairs[0].Changes {
		switch c.Metric {
		case "p50", "p90":
			if c.Verdict != "worse" || c.RatioLo <= 1 {
				t.Errorf("%s: %s (ratio lo %.3f)", c.Metric, c.Verdict, c.RatioLo)
			}
		case "rps":
			if c.Verdict == "worse" || c.Verdict == "better" {
				t.Errorf("rps: %s", c.Verdict)
			}
		}
	}
	if r := meshperf(t, "compare", filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")); r.code != 0 || !strings.Contains(r.stdout, "CHANGE [95% CI]") || !strings.Contains(r.stdout, "worse (p=") {
		t.Errorf("table: %d\n%s", r.code, r.stdout)
	}
	// An SMP result (what --output smp writes) holds no per-second data: say so, and
	// which file to compare instead.
	smpFile := filepath.Join(dir, "r.smp.yaml")
	if r := meshperf(t, "run", "--url", url, "--rate", "50", "--duration", "1s", "-q", "--output", "smp", "--out", smpFile); r.code != 0 {
		t.Fatalf("run -o smp: %d %s", r.code, r.stderr)
	}
	if r := meshperf(t, "compare", filepath.Join(dir, "a.json"), smpFile); r.code != 2 || !strings.Contains(r.stderr, "is an SMP result") ||
		!strings.Contains(r.stderr, "no per-second data") || !strings.Contains(r.stderr, "--out result.json") || strings.Contains(r.stderr, "latencies_ms") {
		t.Errorf("an SMP file: %d %s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(dir, "bare.yaml"), []byte("smp_version: v0.6.1\nid: x\n"), 0o600)
	if r := meshperf(t, "compare", filepath.Join(dir, "a.json"), filepath.Join(dir, "bare.yaml")); r.code != 2 || !strings.Contains(r.stderr, "per-second intervals") {
		t.Errorf("a result without intervals: %d %s", r.code, r.stderr)
	}
}

// gate: A/A passes (exit 0), a candidate 20% slower fails (exit 4); JUnit and the
// GitHub step summary are written. 20%, not 10%: with three rounds (t at 2 degrees of
// freedom is 4.3) a 10% change measured +8.7% [+4.1%, +13.6%] on a loaded CI machine,
// which is rightly inconclusive against a 5% limit.
func TestGateCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test: its verdicts need undistorted runs (runs in the main pass)")
	}
	url := startTarget(t)
	dir := t.TempDir()
	base := url + "/a?latency=normal:20ms,2ms"
	args := func(cand, junit string) []string {
		return []string{"gate", "--baseline", base, "--candidate", cand, "--rounds", "3", "--max-rounds", "6", "--duration", "2s", "--warmup", "0s",
			"--rate", "100", "--metric", "p50,p90", "--junit", junit}
	}
	t.Setenv("GITHUB_STEP_SUMMARY", filepath.Join(dir, "summary.md"))
	t.Setenv("GITHUB_ACTIONS", "true")
	r := meshperf(t, args(url+"/b?latency=normal:20ms,2ms", filepath.Join(dir, "aa.xml"))...)
	if r.code != 0 || strings.Contains(r.stdout, "::error") {
		t.Errorf("A/A gate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = meshperf(t, args(url+"/c?latency=normal:24ms,2.4ms", filepath.Join(dir, "ab.xml"))...)
	if r.code != 4 || !strings.Contains(r.stdout, "::error title=meshperf gate::p50") {
		t.Errorf("20%% slower: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	junit, _ := os.ReadFile(filepath.Join(dir, "ab.xml"))
	if !strings.Contains(string(junit), "<failure") {
		t.Errorf("junit: %s", junit)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if strings.Count(string(md), "### meshperf gate") != 2 || !strings.Contains(string(md), "❌ regression") {
		t.Errorf("step summary:\n%s", md)
	}
	if r := meshperf(t, "gate", "--baseline", base, "--candidate", "nowhere", "--rounds", "0"); r.code != 2 {
		t.Errorf("bad gate input: exit %d %s", r.code, r.stderr)
	}
}
