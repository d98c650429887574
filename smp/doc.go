// Package smp is meshperf's data model: the test configuration (a superset of the
// Service Mesh Performance PerformanceTestConfig), the result with its per-second
// intervals and HDR histograms, and the codecs that read and write them, including
// export to and import from the official SMP types.
//
// It imports nothing else of meshperf's, so every other package can depend on it.
package smp
