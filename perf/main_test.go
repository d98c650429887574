package perf_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/sampleapp"
)

// TestMain doubles as a target process (the helper-process pattern), for tests that
// must starve the generator of CPU without starving the target.
func TestMain(m *testing.M) {
	if os.Getenv("MESHPERF_TEST_TARGET") == "1" {
		srv, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println(srv.URL())
		_, _ = io.Copy(io.Discard, os.Stdin) // serve until the parent closes stdin
		srv.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startTargetProcess runs the sample target in a child process and returns its URL.
func startTargetProcess(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MESHPERF_TEST_TARGET=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		t.Fatalf("target process: %q %v", line, err)
	}
	return strings.TrimSpace(line)
}
