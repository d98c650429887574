package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/meshperf/meshperf/smp"
)

// action.yml hands every input to hack/action.sh, so the script this test runs is the
// one the action runs.
func TestActionYAMLPassesEveryInput(t *testing.T) {
	b, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs map[string]any `yaml:"inputs"`
		Runs   struct {
			Using string `yaml:"using"`
			Steps []struct {
				Run string            `yaml:"run"`
				Env map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	for _, s := range a.Runs.Steps {
		if strings.Contains(s.Run, "hack/action.sh") {
			env = s.Env
		}
	}
	if a.Runs.Using != "composite" || env == nil {
		t.Fatalf("no composite step runs hack/action.sh")
	}
	for in := range a.Inputs {
		if in == "upload" {
			continue // used by the upload step itself
		}
		key := "INPUT_" + strings.ToUpper(strings.ReplaceAll(in, "-", "_"))
		if env[key] != "${{ inputs."+in+" }}" {
			t.Errorf("input %s is not passed as %s", in, key)
		}
	}
}

type actionRun struct {
	code    int
	outputs map[string]string
	summary string
	dir     string
}

func runAction(t *testing.T, env ...string) actionRun {
	t.Helper()
	dir := t.TempDir()
	out, sum := filepath.Join(dir, "github_output"), filepath.Join(dir, "step_summary.md")
	cmd := exec.Command("bash", "../../hack/action.sh")
	cmd.Env = append(os.Environ(), append([]string{"MESHPERF_BIN=" + bin, "GITHUB_OUTPUT=" + out, "GITHUB_STEP_SUMMARY=" + sum,
		"INPUT_RESULT_DIR=" + filepath.Join(dir, "results")}, env...)...)
	logs, err := cmd.CombinedOutput()
	r := actionRun{outputs: map[string]string{}, dir: filepath.Join(dir, "results")}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	o, _ := os.ReadFile(out)
	for _, line := range strings.Split(string(o), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			r.outputs[k] = v
		}
	}
	s, _ := os.ReadFile(sum)
	r.summary = string(s)
	if testing.Verbose() {
		t.Logf("action output:\n%s", logs)
	}
	return r
}

func TestActionScript(t *testing.T) {
	url := startTarget(t)
	test := filepath.Join(t.TempDir(), "test.yaml")
	os.WriteFile(test, []byte("name: action\nduration: 1s\nclients:\n  - endpoint_urls: ["+url+"/action]\n    rps: 50\n"), 0o600)

	r := runAction(t, "INPUT_MODE=run", "INPUT_TEST_FILE="+test, "INPUT_THRESHOLDS=p99 < 1s\n  error_rate < 1%\n", "INPUT_ARGS=-q")
	if r.code != 0 || r.outputs["exit-code"] != "0" || !strings.Contains(r.summary, "### meshperf: ✅ action") || !strings.Contains(r.summary, "`error_rate < 1%`") {
		t.Fatalf("run: exit %d outputs %v summary:\n%s", r.code, r.outputs, r.summary)
	}
	b, _ := os.ReadFile(r.outputs["result-file"])
	if res, err := smp.DecodeResult(b); err != nil || res.Summary.Requests != 50 || len(res.Thresholds) != 2 {
		t.Errorf("result file: %v", err)
	}

	r = runAction(t, "INPUT_MODE=run", "INPUT_TEST_FILE="+test, "INPUT_THRESHOLDS=requests > 1000000", "INPUT_ARGS=-q")
	if r.code != 3 || r.outputs["exit-code"] != "3" || !strings.Contains(r.summary, "❌") {
		t.Errorf("failing threshold: exit %d %v", r.code, r.outputs)
	}

	r = runAction(t, "INPUT_MODE=gate", "INPUT_BASELINE="+url+"/a", "INPUT_CANDIDATE="+url+"/b", "INPUT_ROUNDS=2", "INPUT_MAX_ROUNDS=3",
		"INPUT_METRICS=p50", "INPUT_ARGS=--duration 1s --warmup 0s --rate 50")
	var rep struct {
		Verdict   string
		Rounds    int
		MaxRounds int `json:"max_rounds"`
	}
	b, _ = os.ReadFile(r.outputs["result-file"])
	if err := json.Unmarshal(b, &rep); err != nil || r.code == 2 || r.code == 1 || strings.Count(r.summary, "### meshperf gate") != 1 ||
		rep.MaxRounds != 3 || rep.Rounds < 2 || rep.Rounds > 3 {
		t.Errorf("gate: exit %d, report %s, summary:\n%s", r.code, b, r.summary)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "gate.junit.xml")); err != nil {
		t.Errorf("no JUnit: %v", err)
	}

	srv := startServer(t, freeAddr(t), t.TempDir(), "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	var p map[string]any
	api(t, "POST", srv.url+"/api/v1/profiles", adminToken, map[string]any{"name": "ci", "config": map[string]any{"duration": "1s",
		"thresholds": []string{"p99 < 1s"}, "clients": []map[string]any{{"endpoint_urls": []string{url + "/ci"}, "rps": 20}}}}, &p)
	r = runAction(t, "INPUT_MODE=profile", "INPUT_PROFILE=ci", "INPUT_SERVER="+srv.url, "INPUT_TOKEN="+adminToken, "INPUT_ARGS=-q")
	if r.code != 0 || !strings.Contains(r.summary, "### meshperf: ✅ ci") {
		t.Errorf("profile: exit %d %v\n%s", r.code, r.outputs, r.summary)
	}

	if r := runAction(t, "INPUT_MODE=fly"); r.code != 2 {
		t.Errorf("bad mode: exit %d", r.code)
	}
}

// The conformance mode hands its inputs to `meshperf conformance run`: the profiles
// are required, the signing key arrives (a bad one is refused by name), and a
// cluster that cannot be reached is a run that could not be made.
func TestActionConformanceMode(t *testing.T) {
	if r := runAction(t, "INPUT_MODE=conformance"); r.code != 2 {
		t.Errorf("no profiles: exit %d", r.code)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: dead, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: dead, context: {cluster: dead, user: u}}]
current-context: dead
`), 0o600)
	r := runAction(t, "INPUT_MODE=conformance", "INPUT_PROFILES=SMI", "INPUT_KUBECONFIG="+kc, "INPUT_CLUSTER=dead", "INPUT_SIGN_KEY=not-a-key")
	if r.code != 2 || r.outputs["exit-code"] != "" && r.outputs["exit-code"] != "2" {
		t.Errorf("bad sign key: exit %d %v", r.code, r.outputs)
	}
	r = runAction(t, "INPUT_MODE=conformance", "INPUT_PROFILES=SMI,MESH-HTTP", "INPUT_KUBECONFIG="+kc, "INPUT_CLUSTER=nope")
	if r.code != 2 {
		t.Errorf("unknown context: exit %d", r.code)
	}
	r = runAction(t, "INPUT_MODE=conformance", "INPUT_PROFILES=SMI", "INPUT_KUBECONFIG="+kc, "INPUT_MESH=linkerd")
	if r.code != 1 || r.outputs["exit-code"] != "1" || !strings.HasSuffix(r.outputs["result-file"], "conformance.yaml") {
		t.Errorf("unreachable cluster: exit %d %v", r.code, r.outputs)
	}
}
