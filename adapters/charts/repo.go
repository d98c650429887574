// Package charts installs a mesh from Helm charts the way meshperf's adapters do:
// versions read from a chart repository's index.yaml, charts fetched and rendered with
// Helm's own loader and template engine (helm.sh/helm/v3), and the rendered objects
// applied with server-side apply under meshperf's field manager and labels, with a
// release record (a ConfigMap listing every object) so that uninstall removes exactly
// what was installed, CRDs and a namespace it created included.
//
// Why render + server-side apply and not Helm's install action: the action keeps its
// own release Secrets and three-way merges, which would be a second owner of the
// objects beside meshperf's field manager; it also pulls Helm's registry client (OCI,
// containerd) into the binary. Rendering keeps one owner, lets the adapter order CRDs
// before the objects that need them and emit an event per step, and uninstall needs
// no chart at all (the record lists what to delete).
package charts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"sigs.k8s.io/yaml"

	"github.com/meshperf/meshperf/smp"
)

// Bounds of what is read from a repository.
const (
	MaxIndexBytes = 64 << 20
	MaxChartBytes = 32 << 20
)

// Index is a chart repository's index.yaml, the part meshperf reads.
type Index struct {
	APIVersion string             `json:"apiVersion"`
	Entries    map[string][]Entry `json:"entries"`
}

// Entry is one chart version in an index.
type Entry struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	AppVersion string   `json:"appVersion,omitempty"`
	URLs       []string `json:"urls"`
	Digest     string   `json:"digest,omitempty"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$`)

// ParseIndex decodes and checks an index.yaml. Entries with an unusable version or no
// URL are reported, named by their place; nothing panics on any input.
func ParseIndex(data []byte) (*Index, error) {
	var errs smp.FieldErrors
	if len(data) > MaxIndexBytes {
		errs.Add("index", 0, "larger than %d bytes", MaxIndexBytes)
		return nil, errs
	}
	var idx Index
	if err := yaml.Unmarshal(data, &idx); err != nil {
		errs.Add("index", 0, "not a chart repository index: %s", firstLine(err.Error()))
		return nil, errs
	}
	if idx.APIVersion != "v1" {
		errs.Add("index.apiVersion", 0, "%q: only v1 is known", idx.APIVersion)
	}
	if len(idx.Entries) == 0 {
		errs.Add("index.entries", 0, "no charts")
	}
	for name, es := range idx.Entries {
		if !nameRE.MatchString(name) {
			errs.Add("index.entries", 0, "%q is not a chart name", name)
			continue
		}
		for i, e := range es {
			path := fmt.Sprintf("index.entries.%s[%d]", name, i)
			if _, err := semver.NewVersion(e.Version); err != nil {
				errs.Add(path+".version", 0, "%q is not a semantic version", e.Version)
			}
			if len(e.URLs) == 0 || e.URLs[0] == "" {
				errs.Add(path+".urls", 0, "no URL")
			}
			if e.Digest != "" {
				if b, err := hex.DecodeString(e.Digest); err != nil || len(b) != sha256.Size {
					errs.Add(path+".digest", 0, "not a sha256 in hex")
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &idx, nil
}

// Versions lists a chart's versions, newest first (pre-releases included, after
// their release).
func (idx *Index) Versions(name string) []string {
	type v struct {
		s  string
		sv *semver.Version
	}
	var vs []v
	for _, e := range idx.Entries[name] {
		if sv, err := semver.NewVersion(e.Version); err == nil {
			vs = append(vs, v{e.Version, sv})
		}
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].sv.GreaterThan(vs[j].sv) })
	out := make([]string, 0, len(vs))
	for _, x := range vs {
		out = append(out, x.s)
	}
	return out
}

// Find returns a chart version's entry: by chart version (with or without a leading
// v), else by app version (Linkerd's stable-2.14.10 is chart 1.16.11).
func (idx *Index) Find(name, version string) (Entry, bool) {
	for _, e := range idx.Entries[name] {
		if e.Version == version || strings.TrimPrefix(e.Version, "v") == strings.TrimPrefix(version, "v") {
			return e, true
		}
	}
	for _, e := range idx.Entries[name] {
		if e.AppVersion != "" && e.AppVersion == version {
			return e, true
		}
	}
	return Entry{}, false
}

// Repo is a Helm chart repository over HTTP(S).
type Repo struct {
	URL  string
	HTTP *http.Client
	// TTL is how long an index is reused (default 5 minutes).
	TTL time.Duration

	mu      sync.Mutex
	idx     *Index
	fetched time.Time
}

// NewRepo returns a repository at url.
func NewRepo(url string) *Repo {
	return &Repo{URL: strings.TrimRight(url, "/"), HTTP: &http.Client{Timeout: 60 * time.Second}, TTL: 5 * time.Minute}
}

// Index returns the repository's index, fetched at most every TTL.
func (r *Repo) Index(ctx context.Context) (*Index, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.idx != nil && time.Since(r.fetched) < r.TTL {
		return r.idx, nil
	}
	data, err := r.get(ctx, r.URL+"/index.yaml", MaxIndexBytes)
	if err != nil {
		return nil, err
	}
	idx, err := ParseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("%s/index.yaml: %w", r.URL, err)
	}
	r.idx, r.fetched = idx, time.Now()
	return idx, nil
}

// Load fetches and loads one chart version, checking its digest when the index has one.
func (r *Repo) Load(ctx context.Context, name, version string) (*chart.Chart, error) {
	idx, err := r.Index(ctx)
	if err != nil {
		return nil, err
	}
	e, ok := idx.Find(name, version)
	if !ok {
		return nil, fmt.Errorf("chart %s has no version %s in %s (it has: %s)", name, version, r.URL, strings.Join(first(idx.Versions(name), 8), ", "))
	}
	u, err := url.Parse(e.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: URL %q: %w", name, version, e.URLs[0], err)
	}
	if !u.IsAbs() {
		base, err := url.Parse(r.URL + "/")
		if err != nil {
			return nil, err
		}
		u = base.ResolveReference(u)
	}
	data, err := r.get(ctx, u.String(), MaxChartBytes)
	if err != nil {
		return nil, err
	}
	if e.Digest != "" {
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != strings.ToLower(e.Digest) {
			return nil, fmt.Errorf("chart %s %s from %s: digest mismatch", name, version, u)
		}
	}
	ch, err := loader.LoadArchive(strings.NewReader(string(data)))
	if err != nil {
		return nil, fmt.Errorf("chart %s %s from %s: %w", name, version, u, err)
	}
	return ch, nil
}

func (r *Repo) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, err
	}
	hc := r.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("chart repository: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("chart repository: GET %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("chart repository: GET %s: %w", u, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("chart repository: GET %s: larger than %d bytes", u, limit)
	}
	return data, nil
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
