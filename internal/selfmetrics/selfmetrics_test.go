package selfmetrics

import (
	"os"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every metric the code registers is in docs/metrics.md's table, and every name the
// table lists is registered: the document cannot drift.
func TestDocumentedNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewServer(reg, ServerGauges{RunsByState: func() map[string]float64 { return map[string]float64{"queued": 1} },
		QueueDepth: func() float64 { return 1 }})
	NewAgent(reg)
	NewTarget(reg)
	RegisterMeshSync(reg, MeshSyncSource{})
	registered := map[string]bool{}
	ch := make(chan *prometheus.Desc, 100)
	go func() { reg.Describe(ch); close(ch) }()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		registered[fqName.FindStringSubmatch(d.String())[1]] = true
	}
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(meshperf_[a-z_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	var names []string
	for n := range registered {
		names = append(names, n)
		if !documented[n] {
			t.Errorf("%s is registered but not in docs/metrics.md", n)
		}
	}
	for n := range documented {
		if !registered[n] {
			t.Errorf("docs/metrics.md lists %s, which nothing registers", n)
		}
	}
	sort.Strings(names)
	if len(names) < 15 {
		t.Errorf("only %d names registered: %v", len(names), names)
	}
}

// Client-chosen paths cannot grow the target's series without bound.
func TestTargetPathsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	tm := NewTarget(reg)
	for i := range MaxTargetPaths + 50 {
		tm.Observe("/p"+string(rune('a'+i%26))+time.Duration(i).String(), "200", time.Millisecond)
	}
	if n := testutil.CollectAndCount(tm.Requests); n != MaxTargetPaths+1 {
		t.Errorf("%d series, want %d paths and other", n, MaxTargetPaths+1)
	}
	if v := testutil.ToFloat64(tm.Requests.WithLabelValues("other", "200")); v != 50 {
		t.Errorf("other counted %v, want 50", v)
	}
	var nilTarget *Target
	nilTarget.Observe("/x", "200", 0) // records nothing, does not panic
}
