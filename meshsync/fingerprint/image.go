package fingerprint

import (
	"strings"
)

// Image is a container image reference taken apart.
type Image struct {
	// Registry is the host ("docker.io" when none is written).
	Registry string
	// Path is the repository path without registry ("istio/pilot"; Docker Hub's
	// official images without "library/": "traefik").
	Path   string
	Tag    string
	Digest string
}

// ParseImage takes an image reference apart; it never fails (a reference it cannot
// read gives an Image that matches nothing).
func ParseImage(ref string) Image {
	var img Image
	ref = strings.TrimSpace(ref)
	if at := strings.Index(ref, "@"); at >= 0 {
		img.Digest, ref = ref[at+1:], ref[:at]
	}
	// A tag follows the last colon after the last slash (a registry may have a port).
	if colon := strings.LastIndex(ref, ":"); colon > strings.LastIndex(ref, "/") {
		img.Tag, ref = ref[colon+1:], ref[:colon]
	}
	img.Registry = "docker.io"
	if first, rest, ok := strings.Cut(ref, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		img.Registry, ref = first, rest
	}
	img.Path = strings.TrimPrefix(strings.ToLower(ref), "library/")
	return img
}

// Is tells whether the image is one of the repositories: equal paths, or a path that
// ends with "/"+repository (a mirror's prefix).
func (i Image) Is(repositories ...string) bool {
	if i.Path == "" {
		return false
	}
	for _, r := range repositories {
		if i.Path == r || strings.HasSuffix(i.Path, "/"+r) {
			return true
		}
	}
	return false
}

// Version is the image tag as a version: without a leading "v" before a digit and
// without the variant suffixes the meshes publish (-distroless, -debug ...). Empty
// when the image is pinned by digest only, or tagged latest.
func (i Image) Version() string {
	return normalizeVersion(i.Tag)
}

// variants are image flavours that are not part of a version.
var variants = []string{"-distroless", "-debug", "-slim", "-ubi", "-ubi8", "-ubi9", "-alpine", "-fips"}

func normalizeVersion(v string) string {
	v = strings.TrimSpace(v)
	for changed := true; changed; {
		changed = false
		for _, s := range variants {
			if strings.HasSuffix(v, s) {
				v, changed = strings.TrimSuffix(v, s), true
			}
		}
	}
	if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && v[1] >= '0' && v[1] <= '9' {
		v = v[1:]
	}
	if v == "latest" {
		return ""
	}
	return v
}

// versionFromKeys reads a version from the first of keys present in the maps (labels
// and annotations). helm.sh/chart values ("istiod-1.24.2") give their version part;
// Istio's revision labels ("1-24-2") read as versions when they look like one;
// linkerd.io/created-by ("linkerd/helm stable-2.14.10") gives its last word.
func versionFromKeys(keys []string, maps ...map[string]string) string {
	for _, k := range keys {
		for _, m := range maps {
			v, ok := m[k]
			if !ok || v == "" {
				continue
			}
			switch k {
			case "helm.sh/chart":
				i := chartVersionStart(v)
				if i < 0 {
					continue
				}
				v = v[i:]
			case "istio.io/rev":
				if !isDigit(v[0]) {
					continue
				}
				v = strings.ReplaceAll(v, "-", ".")
			case "linkerd.io/created-by":
				f := strings.Fields(v)
				if len(f) == 0 {
					continue
				}
				v = f[len(f)-1]
			}
			if v = normalizeVersion(v); v != "" {
				return v
			}
		}
	}
	return ""
}

// chartVersionStart finds where "name-1.2.3-rc.1" starts its version: the first
// "-" followed by a digit.
func chartVersionStart(v string) int {
	for i := 0; i+1 < len(v); i++ {
		if v[i] == '-' && isDigit(v[i+1]) {
			return i + 1
		}
	}
	return -1
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
