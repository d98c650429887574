// Package harness holds what the benchmark and evaluation programs under hack/ share:
// a free port, waiting for the server it started (and no other), failing loudly.
package harness

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FreePort returns a loopback port nobody listens on.
func FreePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Check(err)
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// PIDHeader is where meshperf's target (/healthz) and server (/healthz, /readyz) say
// which process answered.
const PIDHeader = "X-Meshperf-Pid"

// WaitReady waits up to 10 s for url to answer 2xx from the process cmd started: a
// harness must measure the process it started. It fails, naming the port, when cmd
// exits first (typically: the port was taken) or when another process answers there.
func WaitReady(url string, cmd *exec.Cmd) {
	Check(waitReady(url, cmd, 10*time.Second))
}

// exited is closed once cmd has exited, however often it is asked for.
var (
	exitedMu sync.Mutex
	exited   = map[*exec.Cmd]chan struct{}{}
)

func exitedChan(cmd *exec.Cmd) chan struct{} {
	exitedMu.Lock()
	defer exitedMu.Unlock()
	ch, ok := exited[cmd]
	if !ok {
		ch = make(chan struct{})
		exited[cmd] = ch
		go func() { _ = cmd.Wait(); close(ch) }()
	}
	return ch
}

// Stop kills a process started by the harness and waits for it.
func Stop(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exitedChan(cmd)
}

func waitReady(url string, cmd *exec.Cmd, timeout time.Duration) error {
	if cmd.Process == nil {
		return fmt.Errorf("%s: the process to check was not started", url)
	}
	want := strconv.Itoa(cmd.Process.Pid)
	done := exitedChan(cmd)
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%s exited before %s answered (%v): is port %s already taken?", cmd.Path, url, cmd.ProcessState, portOf(url))
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			got := resp.Header.Get(PIDHeader)
			switch {
			case got != want:
				return fmt.Errorf("port %s answers %s, but not from the process started here (pid %s; the answer's %s is %q): another process holds the port", portOf(url), url, want, PIDHeader, got)
			case resp.StatusCode/100 == 2:
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not come up within %v (port %s)", url, timeout, portOf(url))
}

func portOf(url string) string {
	if i := strings.LastIndex(url, ":"); i >= 0 {
		p := url[i+1:]
		if j := strings.IndexByte(p, '/'); j >= 0 {
			p = p[:j]
		}
		return p
	}
	return "?"
}

var cleanups []func()

// OnExit registers something to undo (a process to stop) even when Check exits: os.Exit
// runs no deferred calls.
func OnExit(f func()) { cleanups = append(cleanups, f) }

// Cleanup runs the registered cleanups, newest first.
func Cleanup() {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

// Check exits with the error, if any, after the cleanups.
func Check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, os.Args[0]+":", err)
		Cleanup()
		os.Exit(1)
	}
}
