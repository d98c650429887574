package perf_test

import (
	"os"
	"testing"

	"github.com/meshperf/meshperf/sampleapp/sampleapptest"
)

// TestMain doubles as a target process, for tests that starve the generator of CPU
// without starving the target.
func TestMain(m *testing.M) {
	sampleapptest.RunIfChild()
	os.Exit(m.Run())
}

func startTargetProcess(t *testing.T) string { return sampleapptest.StartProcess(t) }
