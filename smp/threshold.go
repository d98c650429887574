package smp

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Threshold is an SLO assertion on a run's merged figures, such as "p99 < 250ms",
// "error_rate < 1%" or "rps >= 950". In a config it is a string, or a mapping that
// also says whether a failure stops the run early. (meshperf extension)
type Threshold struct {
	Expr string `yaml:"expr" json:"expr"`
	// AbortOnFail stops the run as soon as the threshold fails on the figures so far.
	AbortOnFail bool `yaml:"abort_on_fail,omitempty" json:"abort_on_fail,omitempty"`
	// AbortAfter is how long the measured window must run before an abort may happen,
	// so a few slow first requests do not end a run.
	AbortAfter Duration `yaml:"abort_after,omitempty" json:"abort_after,omitempty"`
}

type thresholdFields Threshold

// UnmarshalYAML accepts "p99 < 250ms" or {expr: ..., abort_on_fail: true}.
func (t *Threshold) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*t = Threshold{Expr: n.Value}
		return nil
	case yaml.MappingNode:
		var f thresholdFields
		if err := DecodeNode(n, &f); err != nil {
			return err
		}
		*t = Threshold(f)
		return nil
	}
	return fmt.Errorf("a threshold is a string such as \"p99 < 250ms\" or a mapping with expr")
}

// ThresholdResult is how a threshold fared on a result.
type ThresholdResult struct {
	Expr string `json:"expr" yaml:"expr"`
	OK   bool   `json:"ok" yaml:"ok"`
	// Observed is the value the threshold was checked against, as written (e.g. "312ms").
	Observed string  `json:"observed" yaml:"observed"`
	Value    float64 `json:"value" yaml:"value"` // in the metric's unit: ms, ratio, req/s, count
	// Aborted: this threshold's failure stopped the run.
	Aborted bool `json:"aborted,omitempty" yaml:"aborted,omitempty"`
}
