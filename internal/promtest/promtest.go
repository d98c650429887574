// Package promtest starts a real Prometheus (Debian's prometheus binary) for tests: on
// loopback, on a free port, with its own configuration and storage under the test's
// temporary directory, scraping what the test names every second.
package promtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ScrapeInterval is how often the test Prometheus scrapes.
const ScrapeInterval = time.Second

// Target is one scrape job.
type Target struct {
	Job  string
	Addr string // host:port serving /metrics
	// Token, if set, is sent as a bearer token.
	Token string
}

// Prometheus is a running test Prometheus.
type Prometheus struct {
	URL string
	cmd *exec.Cmd
}

// Binary is the prometheus executable, or "" when it is not installed.
func Binary() string {
	p, err := exec.LookPath("prometheus")
	if err != nil {
		return ""
	}
	return p
}

// Start runs Prometheus until the test ends. It fails the test when the binary is
// missing: .ci/run installs it (Debian's prometheus package).
func Start(t testing.TB, targets ...Target) *Prometheus {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Fatal("prometheus is not installed (apt-get install prometheus; .ci/run does)")
	}
	dir := t.TempDir()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  scrape_interval: %s\n  evaluation_interval: %s\nscrape_configs:\n", ScrapeInterval, ScrapeInterval)
	for i, tg := range targets {
		fmt.Fprintf(&cfg, "  - job_name: %q\n    scrape_timeout: 900ms\n    static_configs:\n      - targets: [%q]\n", tg.Job, tg.Addr)
		if tg.Token != "" {
			f := filepath.Join(dir, fmt.Sprintf("token-%d", i))
			if err := os.WriteFile(f, []byte(tg.Token), 0o600); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&cfg, "    authorization:\n      credentials_file: %q\n", f)
		}
	}
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("data-%d", attempt)),
			"--web.listen-address="+addr, "--log.level=warn")
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("prometheus-%d.log", attempt)))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &Prometheus{URL: "http://" + addr, cmd: cmd}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		if lastErr = p.waitReady(exited, 30*time.Second); lastErr == nil {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
				_ = logf.Close()
			})
			return p
		}
		_ = cmd.Process.Kill()
		<-exited
		_ = logf.Close()
		b, _ := os.ReadFile(logf.Name())
		lastErr = fmt.Errorf("%w; its log:\n%s", lastErr, b)
	}
	t.Fatalf("starting prometheus: %v", lastErr)
	return nil
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (p *Prometheus) waitReady(exited <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("prometheus exited")
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(p.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("not ready within %v", limit)
}

// Stop kills Prometheus now (a Prometheus that is down).
func (p *Prometheus) Stop() { _ = p.cmd.Process.Kill() }

// Query evaluates an instant query and returns its vector's samples by the value of
// label (e.g. "job").
func (p *Prometheus) Query(ctx context.Context, q, label string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", p.URL+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", q, body.Error)
	}
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		var v float64
		s, _ := r.Value[1].(string)
		if _, err := fmt.Sscan(s, &v); err != nil {
			return nil, fmt.Errorf("query %s: value %q", q, s)
		}
		out[r.Metric[label]] = v
	}
	return out, nil
}

// WaitFor polls an instant query until ok accepts its result, failing the test after
// limit.
func (p *Prometheus) WaitFor(t testing.TB, q, label string, limit time.Duration, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last map[string]float64
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last, lastErr = p.Query(ctx, q, label)
		cancel()
		if lastErr == nil && ok(last) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("waiting %v for %s: last %v (err %v)", limit, q, last, lastErr)
	return nil
}
