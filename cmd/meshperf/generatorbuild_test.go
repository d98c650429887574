package main_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The generator build (-tags generator) is what agents run in CPU-limited pods: it must
// leave out the server and the cluster side, whose packages double the pages the process
// maps (issue 11's RSS goal), and still generate load.
func TestGeneratorBuildLeavesOutTheClusterSide(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "generator", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := "\n" + string(out)
	for _, heavy := range []string{"k8s.io/client-go/", "gorm.io/gorm\n", "github.com/nats-io/nats-server/", "helm.sh/helm/",
		"github.com/meshperf/meshperf/server\n", "sigs.k8s.io/controller-runtime\n", "modernc.org/sqlite\n",
		"github.com/grafana/grafana-foundation-sdk/"} {
		if strings.Contains(deps, "\n"+heavy) {
			t.Errorf("the generator build links %s", strings.TrimSpace(heavy))
		}
	}
	for _, need := range []string{"github.com/meshperf/meshperf/loadgen\n", "github.com/meshperf/meshperf/perf/distributed\n",
		"fortio.org/fortio/fhttp\n", "github.com/tsenart/vegeta/v12/lib\n"} {
		if !strings.Contains(deps, "\n"+need) {
			t.Errorf("the generator build lacks %s", strings.TrimSpace(need))
		}
	}

	gen := filepath.Join(t.TempDir(), "meshperf-generator")
	if out, err := exec.Command("go", "build", "-tags", "generator", "-o", gen, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	url := startTarget(t)
	res := exec.Command(gen, "run", "--url", url, "--duration", "300ms", "--rate", "200", "--model", "open", "-o", "json", "-q")
	if out, err := res.Output(); err != nil || !strings.Contains(string(out), `"requests"`) {
		t.Errorf("generator build's run: %v\n%s", err, out)
	}
	r := exec.Command(gen, "server")
	out, err = r.CombinedOutput()
	if r.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "use the full meshperf binary") {
		t.Errorf("generator build's server: exit %d (%v), %s; want exit 2 saying where the server is", r.ProcessState.ExitCode(), err, out)
	}
}
