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
		{[]string{"--profile", "SMI"}, "--kubeconfig: required"},
		{[]string{"--profile", "SMI", "--kubeconfig", "/nonexistent"}, "--kubeconfig"},
		{[]string{"--profile", "SMI", "--kubeconfig", "x", "--format", "xml"}, "--format"},
	} {
		r := meshperf(t, append([]string{"conformance", "run"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: %+v, want exit 2 naming %s", c.args, r, c.want)
		}
	}
}
