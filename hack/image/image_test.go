package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// staticBinary builds a small static program the way make image builds meshperf.
func staticBinary(t *testing.T, cgo bool) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	prog := "package main\nfunc main() { println(\"hello\") }\n"
	if cgo {
		prog = "package main\n// #include <stdlib.h>\nimport \"C\"\nfunc main() { C.abs(1) }\n"
	}
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bin")
	cmd := exec.Command("go", "build", "-o", out, src)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOFLAGS=")
	if cgo {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=1")
	} else {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		if cgo {
			t.Fatalf("building a cgo program (needs gcc, which the repo's cgo-free build does not; the machine has it): %v\n%s", err, b)
		}
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// The image's config runs the binary as a non-root user from an empty base, its one
// layer holds exactly the binary built, and both outputs (OCI layout, tarball) read
// back as the same image.
func TestImage(t *testing.T) {
	bin := staticBinary(t, false)
	dir := t.TempDir()
	oci, tb := filepath.Join(dir, "oci"), filepath.Join(dir, "image.tar")
	if err := run(Options{Binary: bin, Tag: "example.com/meshperf:test", Version: "v-test"}, oci, tb); err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag("example.com/meshperf:test")
	fromTar, err := tarball.ImageFromPath(tb, &ref)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(oci)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 || m.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "example.com/meshperf:test" {
		t.Fatalf("OCI layout index: %+v %v", m, err)
	}
	fromOCI, err := p.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	// The tarball's manifest is docker's, rebuilt on reading: the same config and
	// layers make the same image.
	c1, _ := fromTar.ConfigName()
	c2, _ := fromOCI.ConfigName()
	if c1 != c2 {
		t.Errorf("tarball config %s, layout config %s", c1, c2)
	}
	d2, _ := fromOCI.Digest()
	cf, err := fromOCI.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/usr/local/bin/meshperf" || c.User != "65532:65532" || cf.OS != "linux" || cf.Architecture == "" ||
		c.Labels["org.opencontainers.image.version"] != "v-test" {
		t.Errorf("config %+v (%s/%s)", c, cf.OS, cf.Architecture)
	}
	layers, err := fromOCI.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	want, _ := os.ReadFile(bin)
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "usr/local/bin/meshperf" {
			got, _ := io.ReadAll(tr)
			found = bytes.Equal(got, want) && h.Mode&0o111 != 0 && h.Uid == 0
		}
	}
	if !found {
		t.Error("the layer has no executable usr/local/bin/meshperf equal to the binary built")
	}
	// Reproducible: the same binary gives the same digest.
	again, err := Build(Options{Binary: bin, Tag: "example.com/meshperf:test", Version: "v-test"})
	if err != nil {
		t.Fatal(err)
	}
	if d3, _ := again.Digest(); d3 != d2 {
		t.Errorf("rebuilt %s, first %s", d3, d2)
	}
}

// A binary that needs a dynamic loader cannot run on the empty base: refused.
func TestImageRefusesDynamicBinaries(t *testing.T) {
	if _, err := Build(Options{Binary: staticBinary(t, true)}); err == nil {
		t.Error("a dynamically linked binary was taken")
	}
	notELF := filepath.Join(t.TempDir(), "x")
	_ = os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	if _, err := Build(Options{Binary: notELF}); err == nil {
		t.Error("a script was taken")
	}
}
