package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/sampleapp"
)

// The README and examples/ are what a new user tries first: these tests hold them to
// what the binary does. README conventions they rely on:
//   - a ```yaml block with `clients:` is a whole config; one without is a fragment of
//     one (added to examples/http.yaml);
//   - a line `<!-- readme-test: invalid NAME -->` before a ```yaml block: that config,
//     saved as NAME, is refused, and the next ``` block is exactly what meshperf says;
//   - in the Quick start, a command whose comment contains "illustrative" is not run.

const repoRoot = "../.."

type mdBlock struct {
	lang, body, marker, section string
}

// readmeBlocks returns the fenced blocks of README.md with the marker comment (if any)
// on the line before and the ## section they are in.
func readmeBlocks(t *testing.T) []mdBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []mdBlock
	var cur *mdBlock
	section, prev := "", ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case cur != nil && strings.HasPrefix(line, "```"):
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		case strings.HasPrefix(line, "```"):
			cur = &mdBlock{lang: strings.TrimPrefix(line, "```"), section: section}
			if strings.HasPrefix(prev, "<!-- readme-test:") {
				cur.marker = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(prev, "<!-- readme-test:"), "-->"))
			}
		case strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		}
		if strings.TrimSpace(line) != "" {
			prev = line
		}
	}
	return blocks
}

// sampleApp starts the sample app on free ports and returns a function that points
// the README's and examples' default ports (8080 HTTP, 8079 gRPC, 8078 TCP) at it.
func sampleApp(t *testing.T) func(string) string {
	t.Helper()
	srv, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	a := srv.Addrs()
	return strings.NewReplacer("127.0.0.1:8080", a.HTTP, "127.0.0.1:8079", a.GRPC, "127.0.0.1:8078", a.TCP).Replace
}

func examples(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(repoRoot, "examples", "*.yaml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v %v", files, err)
	}
	return files
}

// Every example and every config in the README decodes and validates (engines and
// thresholds included); the README's bad config gives exactly the output it shows.
func TestExamplesAndREADMEConfigsValidate(t *testing.T) {
	for _, f := range examples(t) {
		if r := meshperf(t, "run", "-f", f, "--dry-run"); r.code != 0 || !strings.HasPrefix(r.stdout, "ok: would run") {
			t.Errorf("%s: exit %d\n%s", f, r.code, r.stderr)
		}
	}
	base, err := os.ReadFile(filepath.Join(repoRoot, "examples", "http.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t)
	dir := t.TempDir()
	checked := 0
	for i, b := range blocks {
		if b.lang != "yaml" {
			continue
		}
		checked++
		body := b.body
		if !strings.Contains(body, "clients:") {
			body = string(base) + body
		}
		if name, ok := strings.CutPrefix(b.marker, "invalid "); ok {
			os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600)
			r := runIn(t, dir, "run", "-f", name, "--dry-run")
			if i+1 >= len(blocks) {
				t.Fatalf("no output block after the invalid config %s", name)
			}
			if want := blocks[i+1].body; r.code != 2 || r.stderr != want {
				t.Errorf("README's invalid config %s: exit %d\ngot:\n%s\nthe README shows:\n%s", name, r.code, r.stderr, want)
			}
			continue
		}
		f := filepath.Join(dir, "readme.yaml")
		os.WriteFile(f, []byte(body), 0o600)
		if r := meshperf(t, "run", "-f", f, "--dry-run"); r.code != 0 {
			t.Errorf("README config in %q does not validate: %s\n%s", b.section, r.stderr, b.body)
		}
	}
	if checked < 3 {
		t.Errorf("only %d yaml blocks found in the README", checked)
	}
}

// The short examples run against the sample app; the ramp runs scaled down.
func TestExamplesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs load")
	}
	ports := sampleApp(t)
	dir := t.TempDir()
	for _, f := range examples(t) {
		name := filepath.Base(f)
		if name == "distributed.yaml" { // needs a server and agents: validated above
			continue
		}
		b, _ := os.ReadFile(f)
		local := filepath.Join(dir, name)
		os.WriteFile(local, []byte(ports(string(b))), 0o600)
		args := []string{"run", "-f", local, "-q", "--duration", "2s", "--scale-stages"}
		r := meshperf(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "completed") {
			t.Errorf("%s: exit %d\n%s%s", name, r.code, r.stdout, r.stderr)
		}
		if name == "http.yaml" {
			summaryMatchesREADME(t, r.stdout)
		}
	}
}

var summaryRow = regexp.MustCompile(`(?m)^  ([a-z][a-z ]*?) \.{3,} `)

// summaryMatchesREADME checks that the README's sample summary (the first plain block
// of the Quick start) has the rows, in the order, that a real summary has: numbers
// differ from machine to machine, the shape must not.
func summaryMatchesREADME(t *testing.T, real string) {
	t.Helper()
	rows := func(s string) (out []string) {
		for _, m := range summaryRow.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, b := range readmeBlocks(t) {
		if b.section == "Quick start" && b.lang == "" {
			if got, want := strings.Join(rows(real), ", "), strings.Join(rows(b.body), ", "); got != want || got == "" {
				t.Errorf("the README's summary has rows %q; a real one has %q", want, got)
			}
			return
		}
	}
	t.Errorf("no sample summary in the README's Quick start")
}

var durationFlag = regexp.MustCompile(`--duration \S+`)

// Every command of the Quick start runs, against the sample app started here, each
// shortened to 1 s; files it names (examples/...) exist.
func TestREADMEQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs load")
	}
	ports := sampleApp(t)
	dir := t.TempDir()
	// the examples, pointed at this test's sample app, where the Quick start expects them
	os.MkdirAll(filepath.Join(dir, "examples"), 0o755)
	for _, f := range examples(t) {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(dir, "examples", filepath.Base(f)), []byte(ports(string(b))), 0o600)
	}
	ran := 0
	for _, b := range readmeBlocks(t) {
		if b.section != "Quick start" || b.lang != "sh" {
			continue
		}
		for _, line := range strings.Split(b.body, "\n") {
			cmdline, comment, _ := strings.Cut(line, "#")
			cmdline = strings.TrimSpace(cmdline)
			if !strings.HasPrefix(cmdline, "bin/meshperf ") || strings.Contains(comment, "illustrative") {
				continue
			}
			if strings.HasSuffix(cmdline, "&") { // the sample app: started above instead
				if !strings.Contains(cmdline, "meshperf target") {
					t.Errorf("a background command the test does not know: %s", line)
				}
				continue
			}
			args := strings.Fields(ports(cmdline))[1:]
			short := durationFlag.ReplaceAllString(strings.Join(args, " "), "--duration 1s")
			args = strings.Fields(short)
			if !strings.Contains(short, "--duration") {
				args = append(args, "--duration", "1s")
			}
			if strings.Contains(short, "-f ") {
				args = append(args, "--scale-stages")
			}
			r := runIn(t, dir, append(args, "-q")...)
			if r.code != 0 {
				t.Errorf("Quick start: %s\nexit %d\n%s%s", cmdline, r.code, r.stdout, r.stderr)
			}
			ran++
		}
	}
	if ran < 5 {
		t.Errorf("ran only %d Quick start commands", ran)
	}
}

// runIn runs the binary in a directory, for commands with relative paths.
func runIn(t *testing.T, dir string, args ...string) run {
	t.Helper()
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(abs, args...)
	cmd.Dir = dir
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return run{out.String(), errb.String(), code}
}

// docs/architecture.md names packages that exist and every subject bus spells, and
// the README points at it.
func TestArchitectureDocStaysTrue(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^\\| `([a-z0-9/]+)/?` \\|").FindAllStringSubmatch(string(doc), -1)
	if len(rows) < 20 {
		t.Fatalf("only %d packages in the table", len(rows))
	}
	for _, m := range rows {
		if st, err := os.Stat(filepath.Join(repoRoot, m[1])); err != nil || !st.IsDir() {
			t.Errorf("docs/architecture.md names %s, which does not exist", m[1])
		}
	}
	assign, _ := bus.AssignSubject("RUN", "AGENT")
	intervals, _ := bus.IntervalSubject("RUN", "AGENT")
	heartbeat, _ := bus.HeartbeatSubject("AGENT")
	for _, subject := range []string{heartbeat, bus.AgentInbox("AGENT"), assign, intervals, bus.RunsStream} {
		s := strings.NewReplacer("RUN", "<run>", "AGENT", "<agent>").Replace(subject)
		if subject == bus.RunsStream {
			s = subject
		}
		if !strings.Contains(string(doc), s) {
			t.Errorf("docs/architecture.md lacks %s", s)
		}
	}
	readme, _ := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if !strings.Contains(string(readme), "(docs/architecture.md)") || strings.Contains(string(readme), "ARCHITECTURE.md") {
		t.Errorf("the README should point at docs/architecture.md only")
	}
}
