package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meshperf/meshperf/server/storetest"
	"github.com/meshperf/meshperf/smp"
)

const adminToken = "mpt_cli-test-admin-token-0123456789"

type serverProc struct {
	url  string
	cmd  *exec.Cmd
	logs *syncBuffer
}

// syncBuffer is the child's output: written by exec's copier while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer runs `meshperf server` as a process and waits until it is ready.
func startServer(t *testing.T, addr, dataDir, dbURL string, env ...string) *serverProc {
	t.Helper()
	return startServerWith(t, addr, dataDir, dbURL, nil, env...)
}

// startServerWith is startServer with more server flags.
func startServerWith(t *testing.T, addr, dataDir, dbURL string, flags []string, env ...string) *serverProc {
	t.Helper()
	args := []string{"server", "--addr", addr, "--data-dir", dataDir, "--instance-id", "test-instance", "--nats-addr", "127.0.0.1:0"}
	if dbURL != "" {
		args = append(args, "--database-url", dbURL)
	}
	args = append(args, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{url: "http://" + addr, cmd: cmd, logs: logs}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	for range 100 {
		if resp, err := http.Get(p.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("server did not come up:\n%s", logs.String())
	return nil
}

func api(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
	return resp.StatusCode
}

// The CLI against a real server: login, apply, run with live events, list, fetch
// as SMP, compare, delete (results kept). Bad input exits 2.
func TestServerCLIFlow(t *testing.T) {
	tgt := startTarget(t)
	srv := startServer(t, freeAddr(t), t.TempDir(), "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	t.Setenv("MESHPERF_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	if r := meshperf(t, "login", "--server", srv.url, "--token", adminToken, "--name", "test"); r.code != 0 || !strings.Contains(r.stdout, "as admin") {
		t.Fatalf("login: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "login", "--server", srv.url, "--token", "mpt_wrong-token"); r.code == 0 {
		t.Errorf("login with a wrong token succeeded")
	}
	prof := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(prof, []byte("name: cli\nlabels: {team: perf}\nduration: 2s\nclients:\n  - endpoint_urls: ["+tgt+"/cli]\n    rps: 100\n"), 0o600)
	if r := meshperf(t, "profile", "apply", "-f", prof); r.code != 0 || !strings.Contains(r.stdout, "profile cli created (version 1)") {
		t.Fatalf("apply: %d %s %s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: bad\nclients:\n  - endpoint_urls: [ftp://x/]\n"), 0o600)
	if r := meshperf(t, "profile", "apply", "-f", bad); r.code != 2 || !strings.Contains(r.stderr, "config.clients[0].endpoint_urls[0]") {
		t.Errorf("bad profile: %d %s", r.code, r.stderr)
	}
	r := meshperf(t, "run", "--profile", "cli", "--rate", "50", "-o", "json")
	if r.code != 0 {
		t.Fatalf("run --profile: %d %s", r.code, r.stderr)
	}
	res, err := smp.DecodeResult([]byte(r.stdout))
	if err != nil || res.Summary.Requests != 100 || res.Labels["team"] != "perf" {
		t.Fatalf("remote result: %v %+v", err, res.Summary)
	}
	if !strings.Contains(r.stderr, "cli — completed") || !strings.Contains(r.stderr, "[   1s/2s]") {
		t.Errorf("no live progress or summary:\n%s", r.stderr)
	}
	slo := filepath.Join(t.TempDir(), "slo.yaml")
	os.WriteFile(slo, []byte("name: slo\nduration: 1s\nthresholds: [\"p50 < 1us\"]\nclients:\n  - endpoint_urls: ["+tgt+"/slo]\n    rps: 20\n"), 0o600)
	meshperf(t, "profile", "apply", "-f", slo)
	if r := meshperf(t, "run", "--profile", "slo", "-q"); r.code != 3 || !strings.Contains(r.stderr, "p50 < 1us") {
		t.Errorf("server run with a failing threshold: exit %d\n%s", r.code, r.stderr)
	}
	if r := meshperf(t, "run", "--profile", "cli", "--url", "http://x/"); r.code != 2 {
		t.Errorf("--url with --profile: %d", r.code)
	}
	meshperf(t, "run", "--profile", "cli", "-q")
	r = meshperf(t, "result", "list", "-o", "json")
	var page struct{ Items []struct{ ID string } }
	json.Unmarshal([]byte(r.stdout), &page)
	if len(page.Items) != 3 {
		t.Fatalf("result list: %s", r.stdout)
	}
	if r := meshperf(t, "result", "get", page.Items[0].ID, "-o", "smp"); r.code != 0 || !strings.Contains(r.stdout, "latencies_ms:") {
		t.Errorf("result get smp: %d %s", r.code, r.stdout)
	}
	// One comparison, whichever way it is reached: the server's analysis rendered by
	// result compare reads exactly as meshperf compare's of the same two results.
	viaServer := meshperf(t, "result", "compare", page.Items[0].ID, page.Items[1].ID)
	local := meshperf(t, "compare", page.Items[0].ID, page.Items[1].ID)
	if viaServer.code != 0 || !strings.Contains(viaServer.stdout, "CHANGE [95% CI]") || !strings.Contains(viaServer.stdout, "p99.9") || viaServer.stdout != local.stdout {
		t.Errorf("result compare: %d\n%s\ncompare: %d\n%s%s", viaServer.code, viaServer.stdout, local.code, local.stdout, local.stderr)
	}
	// the 8 characters the tables and summaries print are enough
	if r := meshperf(t, "result", "get", page.Items[0].ID[:8], "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, page.Items[0].ID) {
		t.Errorf("result get by prefix: %d %s", r.code, r.stderr)
	}
	if r := meshperf(t, "result", "list", "-o", "wide"); r.code != 2 || !strings.Contains(r.stderr, "want table, json or yaml") {
		t.Errorf("list -o wide: %d %s", r.code, r.stderr)
	}
	if r := meshperf(t, "result", "list"); r.code != 0 || !strings.HasPrefix(r.stdout, "ID ") || strings.Count(r.stdout, "\n") != 4 {
		t.Errorf("result list table: %d %q", r.code, r.stdout)
	}
	if r := meshperf(t, "profile", "delete", "cli"); r.code != 0 || !strings.Contains(r.stdout, "2 result(s) kept") {
		t.Errorf("delete: %d %s", r.code, r.stdout)
	}
	// a gate between two stored profiles, run here
	fast := filepath.Join(t.TempDir(), "fast.yaml")
	os.WriteFile(fast, []byte("name: fast\nduration: 1s\nclients:\n  - endpoint_urls: ["+tgt+"/fast]\n    rps: 50\n"), 0o600)
	meshperf(t, "profile", "apply", "-f", fast)
	if r := meshperf(t, "gate", "--baseline", "fast", "--candidate", "fast", "--rounds", "1", "--max-rounds", "1", "-o", "json"); r.code != 0 ||
		!strings.Contains(r.stdout, `"baseline": "profile fast (version 1)"`) {
		t.Errorf("gate on profiles: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// the server's own scheduler fires a schedule
	if r := meshperf(t, "schedule", "create", "often", "--profile", "slo", "--cron", "@every 1s"); r.code != 0 || !strings.Contains(r.stdout, "next at") {
		t.Fatalf("schedule create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "schedule", "create", "bad", "--profile", "slo", "--cron", "sometimes"); r.code != 2 || !strings.Contains(r.stderr, "cron") {
		t.Errorf("bad cron: %d %s", r.code, r.stderr)
	}
	time.Sleep(2500 * time.Millisecond)
	meshperf(t, "schedule", "pause", "often")
	// a firing shows its run's final state and its result, which `result get` takes, as it
	// takes the run id
	var sched struct {
		History []struct {
			RunID string `json:"run_id"`
		}
	}
	r = meshperf(t, "schedule", "get", "often", "-o", "json")
	json.Unmarshal([]byte(r.stdout), &sched)
	if len(sched.History) == 0 || sched.History[0].RunID == "" {
		t.Fatalf("schedule history: %s %s", r.stdout, r.stderr)
	}
	firstRun := sched.History[0].RunID
	waitRun(t, srv.url, firstRun, 20*time.Second)
	r = meshperf(t, "schedule", "get", "often")
	var firingLine string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, firstRun) {
			firingLine = l
		}
	}
	if r.code != 0 || !strings.Contains(r.stdout, "paused: true") || !strings.Contains(firingLine, "started") ||
		!strings.Contains(firingLine, "partial") && !strings.Contains(firingLine, "completed") && !strings.Contains(firingLine, "failed") {
		t.Errorf("schedule get: %d %s %s", r.code, r.stdout, r.stderr)
	}
	fields := strings.Fields(firingLine)
	resultID := fields[len(fields)-2]
	if r := meshperf(t, "result", "get", resultID, "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, resultID) {
		t.Errorf("result get %s (from schedule get): %d %s", resultID, r.code, r.stderr)
	}
	if r := meshperf(t, "result", "get", firstRun, "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, resultID) {
		t.Errorf("result get RUN-ID: %d %s", r.code, r.stderr)
	}
	if r := meshperf(t, "schedule", "delete", "often"); r.code != 0 {
		t.Errorf("schedule delete: %d %s", r.code, r.stderr)
	}
	// an admin makes a viewer; the viewer can read and not run
	r = meshperf(t, "user", "create", "reader", "--role", "viewer")
	viewerToken := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(viewerToken, "mpt_") {
		t.Fatalf("user create: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "result", "list", "--token", viewerToken); r.code != 0 {
		t.Errorf("viewer list: %d %s", r.code, r.stderr)
	}
	if r := meshperf(t, "profile", "apply", "-f", prof, "--token", viewerToken); r.code != 1 || !strings.Contains(r.stderr, "editor") {
		t.Errorf("viewer apply: %d %s", r.code, r.stderr)
	}
	if r := meshperf(t, "user", "list"); r.code != 0 || !strings.Contains(r.stdout, "reader") || !strings.Contains(r.stdout, "admin") {
		t.Errorf("user list: %d %s", r.code, r.stdout)
	}
}

// First start with no admin token configured prints a generated one, once.
func TestFirstStartPrintsAdminToken(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, freeAddr(t), dir, "")
	out := srv.logs.String()
	i := strings.Index(out, "mpt_")
	if i < 0 {
		t.Fatalf("no token printed:\n%s", out)
	}
	token := strings.Fields(out[i:])[0]
	var who struct{ Name, Role string }
	if code := api(t, "GET", srv.url+"/api/v1/whoami", token, nil, &who); code != 200 || who.Role != "admin" {
		t.Errorf("printed token: %d %+v", code, who)
	}
	if strings.Count(out, token) != 1 {
		t.Errorf("the token appears %d times in the output (logged?)", strings.Count(out, token))
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()
	again := startServer(t, freeAddr(t), dir, "")
	if strings.Contains(again.logs.String(), "mpt_") {
		t.Errorf("a second start printed a token again")
	}
}

// A server killed mid-run restarts, marks the run interrupted and keeps every interval
// it had stored, on SQLite and on PostgreSQL.
func TestKillAndRestartKeepsIntervals(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			tgt := startTarget(t)
			dbURL, dir := storetest.URL(t, kind)
			addr := freeAddr(t)
			srv := startServer(t, addr, dir, dbURL, "MESHPERF_ADMIN_TOKEN="+adminToken)
			cfg := map[string]any{"duration": "20s", "clients": []map[string]any{{"endpoint_urls": []string{tgt + "/kill"}, "rps": 100}},
				"thresholds": []map[string]any{{"expr": "requests >= 100"}, {"expr": "p99 < 1us"}}}
			var run struct{ ID string }
			if code := api(t, "POST", srv.url+"/api/v1/runs", adminToken, map[string]any{"config": cfg}, &run); code != 202 {
				t.Fatalf("run: %d", code)
			}
			time.Sleep(3500 * time.Millisecond)
			srv.cmd.Process.Kill() // kill -9: no shutdown code runs
			srv.cmd.Wait()
			srv = startServer(t, addr, dir, dbURL, "MESHPERF_ADMIN_TOKEN="+adminToken)
			var got struct {
				Status   string
				ResultID string `json:"result_id"`
				Error    string
			}
			api(t, "GET", srv.url+"/api/v1/runs/"+run.ID, adminToken, nil, &got)
			if got.Status != "interrupted" || got.ResultID == "" {
				t.Fatalf("after restart: %+v\n%s", got, srv.logs.String())
			}
			res := fetchResult(t, srv.url, got.ResultID)
			var sum int64
			for _, iv := range res.Intervals {
				sum += iv.Requests
			}
			if len(res.Intervals) < 3 || sum < 250 || res.Summary.Requests != sum || res.Status != smp.StatusPartial {
				t.Errorf("kept %d intervals, %d requests (summary %d), status %s", len(res.Intervals), sum, res.Summary.Requests, res.Status)
			}
			// A recovered run is finished like any other: its thresholds judged.
			if len(res.Thresholds) != 2 || !res.Thresholds[0].OK || res.Thresholds[1].OK || res.Thresholds[0].Observed == "" {
				t.Errorf("recovered verdicts %+v", res.Thresholds)
			}
			t.Logf("%s: interrupted run kept %d intervals, %d requests; %s; thresholds %+v", kind, len(res.Intervals), sum, res.StatusReason, res.Thresholds)
		})
	}
}

// Two `meshperf server` processes share one PostgreSQL: an every-second schedule fires
// each time exactly once between them.
func TestScheduleFiresOnceAcrossTwoServers(t *testing.T) {
	tgt := startTarget(t)
	dbURL, _ := storetest.URL(t, "postgres")
	a := startServer(t, freeAddr(t), t.TempDir(), dbURL, "MESHPERF_ADMIN_TOKEN="+adminToken)
	bArgs := []string{"server", "--addr", freeAddr(t), "--data-dir", t.TempDir(), "--database-url", dbURL, "--instance-id", "second", "--nats-addr", "127.0.0.1:0"}
	b := exec.Command(bin, bArgs...)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Process.Kill(); b.Wait() })
	cfg := map[string]any{"duration": "1s", "clients": []map[string]any{{"endpoint_urls": []string{tgt + "/twice"}, "rps": 10}}}
	if code := api(t, "POST", a.url+"/api/v1/profiles", adminToken, map[string]any{"name": "twice", "config": cfg}, nil); code != 201 {
		t.Fatalf("profile: %d", code)
	}
	if code := api(t, "POST", a.url+"/api/v1/schedules", adminToken, map[string]any{"name": "tick", "profile": "twice", "cron": "@every 1s"}, nil); code != 201 {
		t.Fatalf("schedule: %d", code)
	}
	time.Sleep(4 * time.Second)
	api(t, "POST", a.url+"/api/v1/schedules/tick/pause", adminToken, nil, nil)
	var sc struct {
		History []struct {
			FireTime time.Time `json:"fire_time"`
			RunID    string    `json:"run_id"`
			Server   string
		}
	}
	api(t, "GET", a.url+"/api/v1/schedules/tick", adminToken, nil, &sc)
	var runs struct {
		Items []struct {
			ID          string
			TriggeredBy string `json:"triggered_by"`
		}
	}
	api(t, "GET", a.url+"/api/v1/runs?limit=1000", adminToken, nil, &runs)
	fired, servers := map[string]bool{}, map[string]int{}
	for _, f := range sc.History {
		if f.RunID == "" || fired[f.RunID] {
			t.Errorf("firing %v: run %q", f.FireTime, f.RunID)
		}
		fired[f.RunID] = true
		servers[f.Server]++
	}
	scheduled := 0
	for _, r := range runs.Items {
		if r.TriggeredBy == "schedule:tick" {
			scheduled++
			if !fired[r.ID] {
				t.Errorf("run %s has no firing", r.ID)
			}
		}
	}
	t.Logf("%d firings, %d scheduled runs, by server %v", len(sc.History), scheduled, servers)
	if len(sc.History) < 3 || scheduled != len(sc.History) {
		t.Errorf("%d firings, %d runs", len(sc.History), scheduled)
	}
}

// The server's embedded broker admits an agent only as the name its credential
// (issued by an admin with the CLI) proves; the key credentials are issued under is
// kept in the data directory, mode 0600; no credential is in the logs; the former
// shared agent token is refused with the way forward.
func TestServerIssuesAgentCredentials(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, freeAddr(t), dir, "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	st, err := os.Stat(filepath.Join(dir, "agent-credentials.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("agent credential key file: %v %v", st, err)
	}
	r := meshperf(t, "agent", "credential", "create", "lab-1", "--server", srv.url, "--token", adminToken)
	cred := strings.TrimSpace(r.stdout)
	if r.code != 0 || cred == "" {
		t.Fatalf("credential create: exit %d %s", r.code, r.stderr)
	}
	if strings.Contains(srv.logs.String(), cred) {
		t.Errorf("the credential is in the logs")
	}
	url := brokerURL(t, srv)
	nc, err := nats.Connect(url, nats.UserInfo("lab-1", cred))
	if err != nil {
		t.Fatalf("lab-1 could not connect to %s: %v", url, err)
	}
	nc.Close()
	if _, err := nats.Connect(url, nats.UserInfo("lab-2", cred)); err == nil {
		t.Errorf("lab-1's credential connected as lab-2")
	}
	if r := meshperf(t, "agent", "credential", "create", "a.b", "--server", srv.url, "--token", adminToken); r.code == 0 || !strings.Contains(r.stderr, "name") {
		t.Errorf("a bad name: exit %d %s", r.code, r.stderr)
	}
	oldToken := filepath.Join(t.TempDir(), "agent.token")
	os.WriteFile(oldToken, []byte("the-old-shared-token-0123\n"), 0o600)
	old := exec.Command(bin, "server", "--addr", freeAddr(t), "--data-dir", t.TempDir(), "--nats-addr", "127.0.0.1:0", "--agent-token-file", oldToken)
	old.Env = append(os.Environ(), "MESHPERF_ADMIN_TOKEN="+adminToken)
	out, err := old.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "meshperf agent credential create") {
		t.Errorf("a server given the old shared token: %v\n%s", err, out)
	}
}

// An agent process announces itself to a server process; agent list shows it alive.
func TestAgentAnnouncesItself(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, freeAddr(t), dir, "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	natsURL := brokerURL(t, srv)
	ag := exec.Command(bin, "agent", "--nats", natsURL, "--token-file", credentialFile(t, srv.url, "lab-1"), "--name", "lab-1",
		"--labels", "region=eu,cluster=c1")
	agLogs := &syncBuffer{}
	ag.Stderr = agLogs
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Process.Kill(); ag.Wait() })
	waitAgents(t, srv.url, "lab-1")
	r := meshperf(t, "agent", "list", "--server", srv.url, "--token", adminToken, "-o", "json")
	var list []struct {
		Name   string
		Alive  bool
		Labels map[string]string
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].Name != "lab-1" || !list[0].Alive ||
		list[0].Labels["cluster"] != "c1" {
		t.Fatalf("agent list: %v %s\nagent: %s", err, r.stdout, agLogs.String())
	}
	if r := meshperf(t, "agent", "--nats", natsURL, "--token", "wrong-token-00000000", "--name", "lab-1"); r.code != 1 {
		t.Errorf("a wrong agent token: exit %d %s", r.code, r.stderr)
	}
}

// A distributed run with real processes: a server, two agents, a profile placed on
// two agents of cluster c1, run with the ordinary CLI. The merged result counts what the
// target saw and has one source per agent; asking for more agents than exist fails
// with a clear reason.
func TestDistributedRunOnTwoAgents(t *testing.T) {
	tgt := startTarget(t)
	dir := t.TempDir()
	srv := startServer(t, freeAddr(t), dir, "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	startAgents(t, brokerURL(t, srv), srv.url, []string{"--labels", "cluster=c1"}, "c1-a", "c1-b")
	t.Setenv("MESHPERF_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	meshperf(t, "login", "--server", srv.url, "--token", adminToken)
	prof := filepath.Join(t.TempDir(), "dist.yaml")
	os.WriteFile(prof, []byte("name: dist\nduration: 3s\nagents: {count: 2, selector: {cluster: c1}}\nclients:\n  - endpoint_urls: ["+tgt+"/dist]\n    rps: 200\n"), 0o600)
	if r := meshperf(t, "profile", "apply", "-f", prof); r.code != 0 {
		t.Fatalf("apply: %s", r.stderr)
	}
	r := meshperf(t, "run", "--profile", "dist", "-o", "json")
	if r.code != 0 {
		t.Fatalf("distributed run: exit %d\n%s", r.code, r.stderr)
	}
	res, err := smp.DecodeResult([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, s := range res.Sources {
		got[s.Source] = s.Summary.Requests
	}
	if res.Summary.Requests != 600 || got["c1-a/client-0"] != 300 || got["c1-b/client-0"] != 300 {
		t.Errorf("merged %d requests, sources %v", res.Summary.Requests, got)
	}
	var stats struct {
		ByPath map[string]int64 `json:"by_path"`
	}
	resp, err := http.Get(tgt + "/stats")
	if err == nil {
		json.NewDecoder(resp.Body).Decode(&stats)
		resp.Body.Close()
	}
	if stats.ByPath["/dist"] != 600 {
		t.Errorf("the target saw %d requests", stats.ByPath["/dist"])
	}
	too := filepath.Join(t.TempDir(), "too.yaml")
	os.WriteFile(too, []byte("name: too-many\nduration: 1s\nagents: {count: 3}\nclients:\n  - endpoint_urls: ["+tgt+"/x]\n    rps: 30\n"), 0o600)
	meshperf(t, "profile", "apply", "-f", too)
	if r := meshperf(t, "run", "--profile", "too-many", "-q"); r.code != 1 || !strings.Contains(r.stderr, "needs 3 agent(s)") {
		t.Errorf("too many agents: exit %d %s", r.code, r.stderr)
	}
}

// Three agent processes share 3000 req/s for 10 s; one is killed (-9) at second 5. The
// run ends partial, names the lost agent, and keeps what it sent before dying.
func TestDistributedRunSurvivesAKilledAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("load test (3000 req/s for 10 s); runs in the main pass")
	}
	tgt := startTarget(t)
	dir := t.TempDir()
	srv := startServer(t, freeAddr(t), dir, "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	procs := startAgents(t, brokerURL(t, srv), srv.url, nil, "k1", "k2", "k3")
	cfg := map[string]any{"duration": "10s", "agents": map[string]any{"count": 3},
		"clients": []map[string]any{{"endpoint_urls": []string{tgt + "/kill9"}, "rps": 3000, "connections": 16}}}
	var run struct{ ID string }
	if code := api(t, "POST", srv.url+"/api/v1/runs", adminToken, map[string]any{"config": cfg}, &run); code != 202 {
		t.Fatalf("run: %d", code)
	}
	waitTargetSaw(t, tgt, "/kill9", 15000, 30*time.Second) // about 5 s of load
	procs["k2"].Process.Kill()
	got := waitRun(t, srv.url, run.ID, 40*time.Second)
	if got.Status != "partial" || got.ResultID == "" {
		t.Fatalf("run after a lost agent: %+v\n%s", got, srv.logs.String())
	}
	res := fetchResult(t, srv.url, got.ResultID)
	by := map[string]smp.SourceSummary{}
	for _, s := range res.Sources {
		by[s.Source] = s
	}
	k2 := by["k2/client-0"]
	t.Logf("partial: %s; k1 %d, k2 %d (dropped %v), k3 %d, total %d", res.StatusReason, by["k1/client-0"].Summary.Requests,
		k2.Summary.Requests, k2.Dropped, by["k3/client-0"].Summary.Requests, res.Summary.Requests)
	if !strings.Contains(res.StatusReason, "agent k2 went silent") || !k2.Dropped {
		t.Errorf("the lost agent is not named: %s", res.StatusReason)
	}
	for _, ok := range []string{"k1/client-0", "k3/client-0"} {
		if n := by[ok].Summary.Requests; n < 9900 || n > 10000 {
			t.Errorf("%s: %d requests, want 10000 (within 1%%)", ok, n)
		}
	}
	// k2 sent about five seconds before it died: all of it is in the result.
	if n := k2.Summary.Requests; n < 3500 || n > 6000 {
		t.Errorf("k2 kept %d requests, want about 5000", n)
	}
}

// The server is killed (-9) in the middle of a distributed run and restarted: the
// agents keep measuring and reconnect, the restarted server resumes reading the run
// from JetStream, and the run completes with every request.
func TestDistributedRunSurvivesAServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restart test; runs in the main pass")
	}
	tgt := startTarget(t)
	dir := t.TempDir()
	addr, natsAddr := freeAddr(t), freeAddr(t)
	start := func() *serverProc {
		cmd := exec.Command(bin, "server", "--addr", addr, "--data-dir", dir, "--instance-id", "restarted", "--nats-addr", natsAddr)
		cmd.Env = append(os.Environ(), "MESHPERF_ADMIN_TOKEN="+adminToken)
		logs := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &serverProc{url: "http://" + addr, cmd: cmd, logs: logs}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for range 100 {
			if resp, err := http.Get(p.url + "/readyz"); err == nil {
				resp.Body.Close()
				return p
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("server did not come up:\n%s", logs.String())
		return nil
	}
	srv := start()
	startAgents(t, "nats://"+natsAddr, srv.url, nil, "r1", "r2")
	cfg := map[string]any{"duration": "12s", "agents": map[string]any{"count": 2},
		"clients": []map[string]any{{"endpoint_urls": []string{tgt + "/restart"}, "rps": 200}}}
	var run struct{ ID string }
	if code := api(t, "POST", srv.url+"/api/v1/runs", adminToken, map[string]any{"config": cfg}, &run); code != 202 {
		t.Fatalf("run: %d", code)
	}
	waitTargetSaw(t, tgt, "/restart", 1000, 30*time.Second) // about 5 s of load
	srv.cmd.Process.Kill()                                  // kill -9, mid-run
	srv.cmd.Wait()
	srv = start()
	got := waitRun(t, srv.url, run.ID, 40*time.Second)
	var stats struct {
		ByPath map[string]int64 `json:"by_path"`
	}
	if resp, err := http.Get(tgt + "/stats"); err == nil {
		json.NewDecoder(resp.Body).Decode(&stats)
		resp.Body.Close()
	}
	var res struct {
		Summary struct{ Requests int64 }
		Status  string
	}
	api(t, "GET", srv.url+"/api/v1/results/"+got.ResultID, adminToken, nil, &res)
	t.Logf("after the restart: run %s, result %s with %d requests; the target saw %d", got.Status, res.Status, res.Summary.Requests, stats.ByPath["/restart"])
	if got.Status != "completed" || res.Summary.Requests != 2400 || stats.ByPath["/restart"] != 2400 {
		t.Errorf("want a completed run with all 2400 requests\n%s", srv.logs.String())
	}
}

// The same distributed run through this machine's external NATS (127.0.0.1:4222,
// JetStream) instead of the embedded broker.
func TestDistributedRunOnExternalNATS(t *testing.T) {
	tgt := startTarget(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "server", "--addr", addr, "--data-dir", dir, "--nats-url", "nats://127.0.0.1:4222")
	cmd.Env = append(os.Environ(), "MESHPERF_ADMIN_TOKEN="+adminToken)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + addr
	for i := 0; ; i++ {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("server on the external NATS did not come up:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	suffix := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	startAgents(t, "nats://127.0.0.1:4222", "", []string{"--labels", "via=external-" + suffix}, "x1-"+suffix, "x2-"+suffix)
	waitAgents(t, url, "x1-"+suffix, "x2-"+suffix)
	cfg := map[string]any{"duration": "3s", "agents": map[string]any{"count": 2, "selector": map[string]string{"via": "external-" + suffix}},
		"clients": []map[string]any{{"endpoint_urls": []string{tgt + "/external"}, "rps": 100}}}
	var run struct{ ID string }
	if code := api(t, "POST", url+"/api/v1/runs", adminToken, map[string]any{"config": cfg}, &run); code != 202 {
		t.Fatalf("run: %d", code)
	}
	got := waitRun(t, url, run.ID, 30*time.Second)
	var res struct{ Summary struct{ Requests int64 } }
	api(t, "GET", url+"/api/v1/results/"+got.ResultID, adminToken, nil, &res)
	if got.Status != "completed" || res.Summary.Requests != 300 {
		t.Errorf("run %s (%s), %d requests\n%s", got.Status, got.Error, res.Summary.Requests, logs.String())
	}
}

// The issue's scenario: three agent processes, one run at 3000 req/s for 10 s. The
// total is within 1% of 30,000, the merged percentiles equal those of the union of the
// agents' histograms, and each agent has its breakdown.
func TestDistributedRunThreeAgents3000(t *testing.T) {
	if testing.Short() {
		t.Skip("load test (3000 req/s for 10 s); runs in the main pass")
	}
	tgt := startTarget(t)
	dir := t.TempDir()
	srv := startServer(t, freeAddr(t), dir, "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	startAgents(t, brokerURL(t, srv), srv.url, nil, "t1", "t2", "t3")
	t.Setenv("MESHPERF_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	meshperf(t, "login", "--server", srv.url, "--token", adminToken)
	prof := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(prof, []byte("name: three\nduration: 10s\nagents: {count: 3}\nclients:\n  - endpoint_urls: ["+tgt+"/three]\n    rps: 3000\n    connections: 16\n"), 0o600)
	meshperf(t, "profile", "apply", "-f", prof)
	r := meshperf(t, "run", "--profile", "three", "-o", "json")
	if r.code != 0 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	res, err := smp.DecodeResult([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Summary.Requests; n < 29700 || n > 30300 {
		t.Errorf("%d requests, want 30000 within 1%%", n)
	}
	union := smp.NewHistogram()
	perAgent := map[string]int64{}
	for _, iv := range res.Intervals {
		if !iv.Warmup {
			union.Merge(iv.Latency)
		}
		perAgent[strings.SplitN(iv.Source, "/", 2)[0]] += iv.Requests
	}
	for _, q := range []float64{50, 90, 99, 99.9} {
		if got, want := res.Latency.Quantile(q), union.Quantile(q); got != want {
			t.Errorf("p%v: merged %d µs, union %d µs", q, got, want)
		}
	}
	if len(res.Sources) != 3 || len(perAgent) != 3 {
		t.Errorf("breakdown: %d sources, %v", len(res.Sources), perAgent)
	}
	t.Logf("3 agents: %d requests (%v), p50 %.3f ms, p99 %.3f ms", res.Summary.Requests, perAgent, res.Summary.Latency.P50Ms, res.Summary.Latency.P99Ms)
}

// brokerURL is where the server's agents connect, from its log.
func brokerURL(t *testing.T, srv *serverProc) string {
	t.Helper()
	logs := srv.logs.String()
	i := strings.Index(logs, "agents_connect_to=")
	if i < 0 {
		t.Fatalf("no broker address in the logs:\n%s", logs)
	}
	return strings.Fields(logs[i+len("agents_connect_to="):])[0]
}

// startAgents runs agent processes against a server's broker, each with its own
// credential issued by serverURL ("" for an external NATS that takes none), and
// waits until the server sees them all alive.
func startAgents(t *testing.T, natsURL, serverURL string, extra []string, names ...string) map[string]*exec.Cmd {
	t.Helper()
	procs := map[string]*exec.Cmd{}
	for _, name := range names {
		args := append([]string{"agent", "--nats", natsURL, "--name", name}, extra...)
		if serverURL != "" {
			args = append(args, "--token-file", credentialFile(t, serverURL, name))
		}
		ag := exec.Command(bin, args...)
		if err := ag.Start(); err != nil {
			t.Fatal(err)
		}
		procs[name] = ag
		t.Cleanup(func() { ag.Process.Kill(); ag.Wait() })
	}
	if serverURL != "" {
		waitAgents(t, serverURL, names...)
	}
	return procs
}

// credentialFile issues name's credential through the API and keeps it in a file.
func credentialFile(t *testing.T, serverURL, name string) string {
	t.Helper()
	var got struct{ Credential string }
	if code := api(t, "POST", serverURL+"/api/v1/agents/credentials", adminToken, map[string]any{"name": name}, &got); code != 201 || got.Credential == "" {
		t.Fatalf("issuing %s's credential: %d", name, code)
	}
	path := filepath.Join(t.TempDir(), name+".credential")
	if err := os.WriteFile(path, []byte(got.Credential+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitAgents waits (at most 15 s) until the server lists every one of names alive.
func waitAgents(t *testing.T, serverURL string, names ...string) {
	t.Helper()
	var list struct {
		Items []struct {
			Name  string
			Alive bool
		}
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		api(t, "GET", serverURL+"/api/v1/agents", adminToken, nil, &list)
		alive := map[string]bool{}
		for _, a := range list.Items {
			alive[a.Name] = a.Alive
		}
		missing := 0
		for _, n := range names {
			if !alive[n] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %v not alive after 15 s: %+v", missing, names, list.Items)
		}
	}
}

// waitTargetSaw waits until the sample target has served at least n requests on path.
func waitTargetSaw(t *testing.T, tgt, path string, n int64, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		var stats struct {
			ByPath map[string]int64 `json:"by_path"`
		}
		if resp, err := http.Get(tgt + "/stats"); err == nil {
			json.NewDecoder(resp.Body).Decode(&stats)
			resp.Body.Close()
		}
		if stats.ByPath[path] >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the target saw %d requests on %s after %v, want %d", stats.ByPath[path], path, within, n)
		}
	}
}

type runState struct {
	Status   string
	ResultID string `json:"result_id"`
	Error    string
}

// waitRun polls a run until it is neither queued nor running (or the time is up).
func waitRun(t *testing.T, serverURL, runID string, limit time.Duration) runState {
	t.Helper()
	var got runState
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		api(t, "GET", serverURL+"/api/v1/runs/"+runID, adminToken, nil, &got)
		if got.Status != "queued" && got.Status != "running" {
			break
		}
	}
	return got
}

// fetchResult reads a stored result through the API as SMP.
func fetchResult(t *testing.T, serverURL, id string) *smp.Result {
	t.Helper()
	req, _ := http.NewRequest("GET", serverURL+"/api/v1/results/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	res, err := smp.DecodeResult(b)
	if err != nil {
		t.Fatalf("result %s: %v", id, err)
	}
	return res
}
