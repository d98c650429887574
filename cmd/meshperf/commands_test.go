package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input is exit 2 however it is spelled: an unknown command at the top or inside a
// group (which cobra would answer with help and exit 0), or a duration with no unit.
func TestUnknownCommandsAndBareDurationsExitTwo(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "meshperf"`},
		{[]string{"result", "bogus"}, `unknown command "bogus" for "meshperf result"`},
		{[]string{"resul"}, `did you mean "result"?`},
		{[]string{"run", "--url", "http://127.0.0.1:1/", "--duration", "3"}, `"3" has no unit: did you mean 3s`},
		{[]string{"run", "--url", "http://127.0.0.1:1/", "--warmup", "1.5"}, `--warmup: "1.5" has no unit`},
	} {
		r := meshperf(t, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("meshperf %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
	if r := meshperf(t, "result"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("a bare group should print its help: exit %d %s", r.code, r.stdout)
	}
}

// run --help documents every exit code run can give.
func TestRunHelpListsExitCodes(t *testing.T) {
	r := meshperf(t, "run", "--help")
	help := strings.Join(strings.Fields(r.stdout), " ")
	for _, want := range []string{"0 the test ran", "1 it could not run", "2 bad input", "3 the test ran and a threshold failed", "130 interrupted"} {
		if !strings.Contains(help, want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
}

// The header says which gRPC call runs: health and echo measure different things.
func TestRunNamesTheGRPCCall(t *testing.T) {
	r := meshperf(t, "run", "--protocol", "grpc", "--url", "127.0.0.1:1", "--grpc-call", "echo", "--duration", "1s", "--timeout", "100ms")
	if !strings.Contains(r.stderr, "gRPC meshperf.echo.v1.Echo/Echo") {
		t.Errorf("no gRPC call in the header: exit %d\n%s", r.code, r.stderr)
	}
}

// The CLI's contexts live under the user's config directory, apart from the server's
// default data directory (~/.meshperf); a config at the old place is still read, and
// the next save writes the new one.
func TestCLIConfigMovesOutOfTheServerDataDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("MESHPERF_CONFIG", "")
	legacy := filepath.Join(home, ".meshperf", "config.yaml")
	os.MkdirAll(filepath.Dir(legacy), 0o700)
	os.WriteFile(legacy, []byte("current: a\ncontexts:\n  - {name: a, server: http://a:9081, token: t1}\n  - {name: b, server: http://b:9081, token: t2}\n"), 0o600)
	if r := meshperf(t, "context", "list"); r.code != 0 || !strings.Contains(r.stdout, "http://b:9081") {
		t.Fatalf("the old config was not read: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "context", "use", "b"); r.code != 0 {
		t.Fatalf("context use: %d %s", r.code, r.stderr)
	}
	moved, err := os.ReadFile(filepath.Join(home, ".config", "meshperf", "config.yaml"))
	if err != nil || !strings.Contains(string(moved), "current: b") || !strings.Contains(string(moved), "token: t1") {
		t.Errorf("new config: %v %s", err, moved)
	}
	if old, _ := os.ReadFile(legacy); !strings.Contains(string(old), "current: a") {
		t.Errorf("the old file was changed: %s", old)
	}
	if r := meshperf(t, "context", "list", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"current": true`) || strings.Contains(r.stdout, "t1") {
		t.Errorf("context list -o json (tokens must not show): %d %s", r.code, r.stdout)
	}
}

// A --duration shorter than a config's stages names the rule and both ways out;
// --scale-stages keeps the ramp's shape in the shorter test.
func TestDurationShorterThanStages(t *testing.T) {
	ramp := filepath.Join("..", "..", "examples", "ramp.yaml")
	r := meshperf(t, "run", "-f", ramp, "--duration", "4s", "--dry-run")
	if r.code != 2 || !strings.Contains(r.stderr, "clients[0].stages, which last 8s") || !strings.Contains(r.stderr, "--scale-stages") ||
		!strings.Contains(r.stderr, "--duration 8s or more") {
		t.Errorf("no clear rule: %d %s", r.code, r.stderr)
	}
	if r := meshperf(t, "run", "-f", ramp, "--duration", "4s", "--scale-stages", "--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "for 4s") {
		t.Errorf("--scale-stages: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
