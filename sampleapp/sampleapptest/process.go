// Package sampleapptest runs the sample target in a child process of a test binary
// (the helper-process pattern), for tests that starve the generator of CPU without
// starving the target: call RunIfChild first thing in TestMain, then StartProcess.
package sampleapptest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meshperf/meshperf/sampleapp"
)

const childEnv = "MESHPERF_TEST_TARGET_PROCESS"

// RunIfChild serves the sample target and exits when this test binary was started by
// StartProcess; otherwise it returns at once.
func RunIfChild() {
	if os.Getenv(childEnv) != "1" {
		return
	}
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

// StartProcess starts the sample target in a child process and returns its URL; the
// child ends with the test.
func StartProcess(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
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

// StarveThisProcess leaves this test process one CPU and keeps it busy with spinning
// goroutines until the test ends: the generator starves while a target started by
// StartProcess, in its own process, does not.
func StarveThisProcess(t *testing.T, spinners int) {
	t.Helper()
	prev := runtime.GOMAXPROCS(1)
	var stop atomic.Bool
	for range spinners {
		go func() {
			for !stop.Load() {
			}
		}()
	}
	t.Cleanup(func() { stop.Store(true); runtime.GOMAXPROCS(prev) })
}
