// Package harness holds what the benchmark and evaluation programs under hack/ share:
// a free port, waiting for a server, failing loudly.
package harness

import (
	"fmt"
	"net"
	"net/http"
	"os"
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

// WaitReady waits up to 5 s for url to answer.
func WaitReady(url string) {
	for range 100 {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	Check(fmt.Errorf("%s did not come up", url))
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
