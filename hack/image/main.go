// Command image builds meshperf's container image without a Docker engine: the static
// meshperf binary as the one layer of an empty base, run as a non-root user, with
// meshperf as the entrypoint. It writes an OCI image layout directory and/or a
// tarball that `docker load` and `podman load` read (pushing is for release CI).
//
//	CGO_ENABLED=0 go build -o bin/image/meshperf ./cmd/meshperf
//	go run ./hack/image -binary bin/image/meshperf -oci bin/image/oci -tarball bin/image/meshperf.tar -tag ghcr.io/meshperf/meshperf:dev
package main

import (
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where the binary lives in the image, and who runs it.
const (
	BinaryPath = "/usr/local/bin/meshperf"
	User       = "65532:65532"
)

// Options are one build.
type Options struct {
	Binary  string // a static linux binary
	Tag     string // e.g. ghcr.io/meshperf/meshperf:v1.2.3
	Version string
	Arch    string // default: the binary's ELF machine
	Created time.Time
}

func main() {
	var o Options
	var oci, tb string
	flag.StringVar(&o.Binary, "binary", "", "the static meshperf binary (CGO_ENABLED=0, GOOS=linux)")
	flag.StringVar(&o.Tag, "tag", "ghcr.io/meshperf/meshperf:dev", "the image's reference")
	flag.StringVar(&o.Version, "version", "dev", "meshperf's version (a label)")
	flag.StringVar(&oci, "oci", "", "write an OCI image layout directory here")
	flag.StringVar(&tb, "tarball", "", "write a docker-loadable tarball here")
	flag.Parse()
	if err := run(o, oci, tb); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(o Options, oci, tb string) error {
	if oci == "" && tb == "" {
		return errors.New("give -oci DIR and/or -tarball FILE")
	}
	img, err := Build(o)
	if err != nil {
		return err
	}
	if oci != "" {
		if err := os.RemoveAll(oci); err != nil {
			return err
		}
		p, err := layout.Write(oci, empty.Index)
		if err != nil {
			return err
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": o.Tag})); err != nil {
			return err
		}
	}
	if tb != "" {
		ref, err := name.NewTag(o.Tag)
		if err != nil {
			return fmt.Errorf("-tag: %w", err)
		}
		if err := tarball.WriteToFile(tb, ref, img); err != nil {
			return err
		}
	}
	d, _ := img.Digest()
	fmt.Printf("%s %s\n", o.Tag, d)
	return nil
}

// Build makes the image.
func Build(o Options) (v1.Image, error) {
	arch, err := checkStatic(o.Binary)
	if err != nil {
		return nil, err
	}
	if o.Arch == "" {
		o.Arch = arch
	}
	if o.Created.IsZero() {
		o.Created = time.Unix(0, 0).UTC() // reproducible: the same binary, the same digest
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, err
	}
	layer, err := binaryLayer(bin)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", o.Arch, v1.Time{Time: o.Created}
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.User = User
	cf.Config.WorkingDir = "/"
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   "meshperf",
		"org.opencontainers.image.version": o.Version,
		"org.opencontainers.image.source":  "https://github.com/meshperf/meshperf",
	}
	return mutate.ConfigFile(img, cf)
}

// checkStatic refuses a binary that needs a dynamic loader (the image has none) and
// returns its architecture in Go's terms.
func checkStatic(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("-binary %s: not a linux binary: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", fmt.Errorf("-binary %s is dynamically linked: build it with CGO_ENABLED=0", path)
		}
	}
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64", nil
	case elf.EM_AARCH64:
		return "arm64", nil
	}
	return runtime.GOARCH, nil
}
