package main_test

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/conformance"
)

// keygen makes a key; a report signed with it verifies against its public key, not
// against another, and not once altered.
func TestConformanceKeygenAndVerify(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ci.key")
	r := meshperf(t, "conformance", "keygen", "--out", keyFile)
	if r.code != 0 || !strings.Contains(r.stdout, "BEGIN PUBLIC KEY") {
		t.Fatalf("keygen: %+v", r)
	}
	pubFile := filepath.Join(dir, "ci.pub")
	_ = os.WriteFile(pubFile, []byte(r.stdout), 0o644)
	if st, _ := os.Stat(keyFile); st == nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st)
	}
	raw, _ := os.ReadFile(keyFile)
	key, err := conformance.ParsePrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	rep := &conformance.Report{APIVersion: conformance.ReportAPIVersion, Kind: conformance.ReportKind,
		Mesh: conformance.Mesh{Name: "linkerd", Version: "2.14.1"}, Date: "2026-12-01T00:00:00Z",
		Profiles: []conformance.ProfileReport{{Name: "SMI", Specification: conformance.SMIArchived,
			Core: conformance.Status{Result: conformance.ResultFailure, Statistics: conformance.Statistics{Passed: 3, Failed: 1}, FailedTests: []string{"smi-split-weighted"}}}}}
	if err := rep.Sign(key); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_ = rep.Write(&buf, conformance.FormatYAML)
	report := filepath.Join(dir, "report.yaml")
	_ = os.WriteFile(report, buf.Bytes(), 0o644)

	r = meshperf(t, "conformance", "verify", report, "--public-key", pubFile)
	if r.code != 0 || !strings.Contains(r.stdout, "intact, signed by ed25519 key "+conformance.KeyID(key.Public().(ed25519.PublicKey))) ||
		!strings.Contains(r.stdout, "SMI core failure") {
		t.Errorf("verify: %+v", r)
	}
	// Another trusted key: intact but not trusted.
	other := filepath.Join(dir, "other.key")
	o := meshperf(t, "conformance", "keygen", "--out", other)
	otherPub := filepath.Join(dir, "other.pub")
	_ = os.WriteFile(otherPub, []byte(o.stdout), 0o644)
	if r := meshperf(t, "conformance", "verify", report, "--public-key", otherPub); r.code != 1 || !strings.Contains(r.stderr, "not trusted") {
		t.Errorf("verify with another key: %+v", r)
	}
	// Altered: the failure turned into a success.
	tampered := filepath.Join(dir, "tampered.yaml")
	_ = os.WriteFile(tampered, bytes.Replace(buf.Bytes(), []byte("result: failure"), []byte("result: success"), 1), 0o644)
	if r := meshperf(t, "conformance", "verify", tampered); r.code != 1 || !strings.Contains(r.stderr, "altered") {
		t.Errorf("verify tampered: %+v", r)
	}
	if r := meshperf(t, "conformance", "verify", filepath.Join(dir, "missing.yaml")); r.code != 2 {
		t.Errorf("verify missing file: %+v", r)
	}
}

func TestConformanceRunBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--profile", "SMI,BOGUS", "--kubeconfig", "x"}, `--profile: profile "BOGUS" is not known`},
		{[]string{"--profile", "SMI"}, "--cluster: required"},
		{[]string{"--profile", "SMI", "--kubeconfig", "/nonexistent"}, "--kubeconfig"},
		{[]string{"--profile", "SMI", "--kubeconfig", "x", "--format", "xml"}, "--format"},
	} {
		r := meshperf(t, append([]string{"conformance", "run"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: %+v, want exit 2 naming %s", c.args, r, c.want)
		}
	}
}

// A CI job's signed report goes to the server (verified there), is listed, shows in
// the matrix and comes back still verifying; a tampered one is refused.
func TestConformanceServerVerbs(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ci.key")
	kg := meshperf(t, "conformance", "keygen", "--out", keyFile)
	pubFile := filepath.Join(dir, "ci.pub")
	_ = os.WriteFile(pubFile, []byte(kg.stdout), 0o644)
	raw, _ := os.ReadFile(keyFile)
	key, _ := conformance.ParsePrivateKey(raw)
	rep := &conformance.Report{APIVersion: conformance.ReportAPIVersion, Kind: conformance.ReportKind,
		Mesh: conformance.Mesh{Name: "istio", Version: "1.25.1"}, Date: "2026-12-01T00:00:00Z",
		Profiles: []conformance.ProfileReport{{Name: "MESH-HTTP", Core: conformance.Status{Result: conformance.ResultSuccess, Statistics: conformance.Statistics{Passed: 6}}}}}
	_ = rep.Sign(key)
	var buf bytes.Buffer
	_ = rep.Write(&buf, conformance.FormatYAML)
	report := filepath.Join(dir, "report.yaml")
	_ = os.WriteFile(report, buf.Bytes(), 0o644)
	tampered := filepath.Join(dir, "tampered.yaml")
	_ = os.WriteFile(tampered, bytes.Replace(buf.Bytes(), []byte("1.25.1"), []byte("1.26.0"), 1), 0o644)

	srv := startServer(t, freeAddr(t), t.TempDir(), "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	remote := []string{"--server", srv.url, "--token", adminToken}
	if r := meshperf(t, append([]string{"conformance", "upload", tampered}, remote...)...); r.code == 0 || !strings.Contains(r.stderr, "altered") {
		t.Errorf("tampered upload: %+v", r)
	}
	r := meshperf(t, append([]string{"conformance", "upload", report}, remote...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "kept as ") {
		t.Fatalf("upload: %+v", r)
	}
	id := strings.Fields(strings.TrimPrefix(r.stdout, "kept as "))[0]
	if r := meshperf(t, append([]string{"conformance", "list"}, remote...)...); r.code != 0 || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "uploaded") {
		t.Errorf("list: %+v", r)
	}
	if r := meshperf(t, append([]string{"conformance", "matrix"}, remote...)...); r.code != 0 || !strings.Contains(r.stdout, "istio") || !strings.Contains(r.stdout, "MESH-HTTP") {
		t.Errorf("matrix: %+v", r)
	}
	back := filepath.Join(dir, "back.yaml")
	if r := meshperf(t, append([]string{"conformance", "get", id, "--report", "yaml", "--out", back}, remote...)...); r.code != 0 {
		t.Fatalf("get --report: %+v", r)
	}
	if r := meshperf(t, "conformance", "verify", back, "--public-key", pubFile); r.code != 0 {
		t.Errorf("the downloaded report does not verify: %+v", r)
	}
	if r := meshperf(t, append([]string{"conformance", "server-key"}, remote...)...); r.code != 0 || !strings.Contains(r.stdout, "BEGIN PUBLIC KEY") {
		t.Errorf("server-key: %+v", r)
	}
	if r := meshperf(t, append([]string{"conformance", "get", id, "--report", "pdf"}, remote...)...); r.code != 2 {
		t.Errorf("bad --report: %+v", r)
	}
}
