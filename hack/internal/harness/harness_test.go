package harness

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/sampleapp"
)

// TestMain doubles as the sample target the tests start: the real sampleapp, in a
// process of its own, as the benchmark programs start `meshperf target`.
func TestMain(m *testing.M) {
	if addr := os.Getenv("HARNESS_TEST_TARGET"); addr != "" {
		srv, err := sampleapp.Start(sampleapp.Config{HTTPAddr: addr})
		if err != nil {
			fmt.Fprintln(os.Stderr, "target:", err)
			os.Exit(3)
		}
		defer srv.Close()
		time.Sleep(time.Minute)
		return
	}
	os.Exit(m.Run())
}

func startTarget(t *testing.T, port string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "HARNESS_TEST_TARGET=127.0.0.1:"+port)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Stop(cmd) })
	return cmd
}

func TestWaitReadyAcceptsTheProcessItStarted(t *testing.T) {
	port := FreePort()
	cmd := startTarget(t, port)
	if err := waitReady("http://127.0.0.1:"+port+"/healthz", cmd, 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// A foreign process already holds the port and answers /healthz with 200: the target
// cannot bind, and the harness must not take the foreigner's answers for its own.
func TestWaitReadyRefusesAForeignProcess(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	foreign := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })}
	go foreign.Serve(ln)
	defer foreign.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cmd := startTarget(t, port)
	err = waitReady("http://127.0.0.1:"+port+"/healthz", cmd, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "port "+port) {
		t.Fatalf("a foreign process on port %s was accepted: %v", port, err)
	}
	t.Logf("loud: %v", err)
}

// A listener that holds the port but never answers HTTP: the target exits on the
// failed bind, and the harness says so, naming the port, instead of waiting it out.
func TestWaitReadyNoticesTheProcessExited(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cmd := startTarget(t, port)
	start := time.Now()
	err = waitReady("http://127.0.0.1:"+port+"/healthz", cmd, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "port "+port) {
		t.Fatalf("want an exit naming port %s: %v", port, err)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("took %v: the exit was not noticed", time.Since(start))
	}
	t.Logf("loud: %v", err)
}
