package loadgen

import (
	"bufio"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A generator starved of its only CPU reads responses late, and the stall clock sees
// it: with GOMAXPROCS=1 and a goroutine spinning, a "response" (a line from another
// process through a pipe, read through the network poller like a connection) waits for
// the spinner's time slice. Record charges that wait to the generator's lag.
func TestStallClockChargesLateReads(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c := startStallClock()
	if c == nil {
		t.Fatal("no stall clock")
	}
	defer c.close()
	// The "target" is another process, so it answers on time however starved this one
	// is: every 3 ms a line with the instant it was written.
	target := exec.Command("sh", "-c", "while :; do date +%s%N; sleep 0.003; done")
	out, err := target.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Start(); err != nil {
		t.Skipf("no shell to play the target: %v", err)
	}
	defer func() { _ = target.Process.Kill(); _ = target.Wait() }()
	lines := bufio.NewReader(out)

	var stop atomic.Bool
	spun := make(chan struct{})
	go func() {
		defer close(spun)
		for !stop.Load() {
			for i := 0; i < 1e5; i++ {
				_ = i * i
			}
		}
	}()
	sh := &shard{cur: newBucket(true), next: newBucket(true)}
	rec := &Recorder{sh: sh, open: true, start: time.Now(), stall: c}
	var waited, charged time.Duration
	sent := time.Now()
	for end := time.Now().Add(600 * time.Millisecond); time.Now().Before(end); {
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		done := time.Now()
		ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		if err != nil {
			t.Fatalf("target wrote %q", line)
		}
		arrived := later(time.Unix(0, ns), sent)
		waited += done.Sub(arrived)
		charged += rec.Record(sent, sent, done, 0, 0, Outcome{Code: 200, OK: true})
		sent = done
	}
	stop.Store(true)
	<-spun
	b := sh.cur
	t.Logf("%d reads starved by a spinner: they waited %v in all to be read, %v charged to the generator; "+
		"generator lag p99 %d µs, latency p99 %d µs", b.requests, waited.Round(time.Millisecond),
		charged.Round(time.Millisecond), b.genLag.Quantile(99), b.lat.Quantile(99))
	if charged < waited/4 {
		t.Errorf("charged %v of the %v the reads waited to the generator; want at least a quarter", charged, waited)
	}
	if b.genLag.Quantile(99) < 5000 {
		t.Errorf("generator lag p99 %d µs; want the starvation (≥ 5 ms) to show", b.genLag.Quantile(99))
	}
}
