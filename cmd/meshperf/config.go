package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

// decodeConfigFile reads a test config (YAML or JSON). When it does not decode, the
// problems of the fields that did (an engine that cannot do a protocol, an endpoint
// that is not a URL, ...) are reported with the decode errors, so one edit fixes
// them all rather than one round per kind of mistake.
func decodeConfigFile(path string) (*smp.TestConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg := &smp.TestConfig{}
	derr := smp.DecodeStrict(data, cfg)
	if derr == nil {
		return cfg, nil
	}
	var decodeErrs smp.FieldErrors
	if !errors.As(derr, &decodeErrs) {
		return nil, fmt.Errorf("%s: %w", path, derr)
	}
	// yaml.v3 decodes every field it can and skips the rest: what it gives is the
	// config minus the fields already reported.
	var lenient smp.TestConfig
	_ = yaml.Unmarshal(data, &lenient)
	lenient.ApplyDefaults()
	all := append(smp.FieldErrors{}, decodeErrs...)
	if verr := perf.Validate(&lenient); verr != nil {
		var more smp.FieldErrors
		if errors.As(verr, &more) {
			for _, e := range more {
				if !coveredBy(e.Path, decodeErrs) {
					all = append(all, e)
				}
			}
		}
	}
	return nil, fmt.Errorf("%s: %w", path, all)
}

// coveredBy says whether a validation problem is about a field whose decode already
// failed: a value that did not decode is empty, and "must be positive" about it would
// only repeat the first error.
func coveredBy(path string, decodeErrs smp.FieldErrors) bool {
	for _, d := range decodeErrs {
		if path == d.Path || strings.HasPrefix(path, d.Path+".") || strings.HasPrefix(path, d.Path+"[") {
			return true
		}
	}
	return false
}

// scaleStages shrinks (or stretches) every client's stages in proportion so they fit
// a new test duration: a 20 s ramp then 40 s hold in a 60 s test becomes 2 s then 4 s
// for --duration 6s. Durations are cut to whole milliseconds, so the stages never outlast the test.
func scaleStages(cfg *smp.TestConfig, to time.Duration) {
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		total := c.StagesDuration()
		if total <= 0 || total == to {
			continue
		}
		f := float64(to) / float64(total)
		for j := range c.Stages {
			d := time.Duration(float64(c.Stages[j].Duration.D()) * f).Truncate(time.Millisecond)
			c.Stages[j].Duration = smp.Duration(max(d, time.Millisecond))
		}
	}
}
