package main_test

import (
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
