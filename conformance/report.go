package conformance

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Report of a run, shaped like Gateway API's ConformanceReport, with meshperf's
// additions (mesh, per-test results, the SMI specs view, a signature).
type Report struct {
	APIVersion        string          `json:"apiVersion" yaml:"apiVersion"`
	Kind              string          `json:"kind" yaml:"kind"`
	Implementation    Implementation  `json:"implementation" yaml:"implementation"`
	Mesh              Mesh            `json:"mesh" yaml:"mesh"`
	Date              string          `json:"date" yaml:"date"`
	GatewayAPIVersion string          `json:"gatewayAPIVersion" yaml:"gatewayAPIVersion"`
	GatewayAPIChannel string          `json:"gatewayAPIChannel" yaml:"gatewayAPIChannel"`
	Mode              string          `json:"mode" yaml:"mode"`
	Profiles          []ProfileReport `json:"profiles" yaml:"profiles"`
	// Reproduce says how to run the same suite again.
	Reproduce string     `json:"reproduce,omitempty" yaml:"reproduce,omitempty"`
	Signature *Signature `json:"signature,omitempty" yaml:"signature,omitempty"`
}

// Report kind and version.
const (
	ReportAPIVersion = "meshperf.io/v1alpha1"
	ReportKind       = "ConformanceReport"
)

// ProfileReport is one profile's result.
type ProfileReport struct {
	Name          string          `json:"name" yaml:"name"`
	Specification string          `json:"specification" yaml:"specification"`
	Core          Status          `json:"core" yaml:"core"`
	Extended      *ExtendedStatus `json:"extended,omitempty" yaml:"extended,omitempty"`
	// SMISpecs is the Meshery-compatible view, per SMI specification.
	SMISpecs []SpecView   `json:"smiSpecs,omitempty" yaml:"smiSpecs,omitempty"`
	Tests    []TestResult `json:"tests" yaml:"tests"`
}

// Status of the core or extended tests of a profile.
type Status struct {
	Result       string     `json:"result" yaml:"result"`
	Statistics   Statistics `json:"statistics" yaml:"statistics"`
	FailedTests  []string   `json:"failedTests,omitempty" yaml:"failedTests,omitempty"`
	SkippedTests []string   `json:"skippedTests,omitempty" yaml:"skippedTests,omitempty"`
}

// ExtendedStatus adds the features claimed and not.
type ExtendedStatus struct {
	Status              `yaml:",inline"`
	SupportedFeatures   []Feature `json:"supportedFeatures,omitempty" yaml:"supportedFeatures,omitempty"`
	UnsupportedFeatures []Feature `json:"unsupportedFeatures,omitempty" yaml:"unsupportedFeatures,omitempty"`
}

// Statistics count tests.
type Statistics struct {
	Passed  int `json:"passed" yaml:"passed"`
	Failed  int `json:"failed" yaml:"failed"`
	Skipped int `json:"skipped" yaml:"skipped"`
}

// TestResult is one test's outcome.
type TestResult struct {
	Name        string      `json:"name" yaml:"name"`
	Description string      `json:"description" yaml:"description"`
	Spec        string      `json:"spec,omitempty" yaml:"spec,omitempty"`
	Features    []Feature   `json:"features,omitempty" yaml:"features,omitempty"`
	Extended    bool        `json:"extended" yaml:"extended"`
	Outcome     Outcome     `json:"outcome" yaml:"outcome"`
	Reason      string      `json:"reason,omitempty" yaml:"reason,omitempty"`
	Duration    string      `json:"duration,omitempty" yaml:"duration,omitempty"`
	Assertions  []Assertion `json:"assertions,omitempty" yaml:"assertions,omitempty"`
}

// SpecView is Meshery's per-spec summary, counted over assertions (not setup steps).
type SpecView struct {
	Spec       string `json:"spec" yaml:"spec"`
	Assertions int    `json:"assertions" yaml:"assertions"`
	Passed     int    `json:"passed" yaml:"passed"`
	// Capability: FULL (all passed), HALF (at least half), NONE.
	Capability string `json:"capability" yaml:"capability"`
	Status     string `json:"status" yaml:"status"` // PASSED or FAILED
	Percentage int    `json:"percentage" yaml:"percentage"`
}

func newReport(opts Options) *Report {
	impl := opts.Implementation
	if impl.Project == "" {
		impl = Implementation{Organization: "meshperf", Project: "meshperf", URL: "https://github.com/meshperf/meshperf", Version: opts.Mesh.Version}
	}
	profiles := strings.Join(opts.Profiles, ",")
	return &Report{APIVersion: ReportAPIVersion, Kind: ReportKind, Implementation: impl, Mesh: opts.Mesh,
		Date: time.Now().UTC().Format(time.RFC3339), GatewayAPIVersion: GatewayAPIVersion, GatewayAPIChannel: "standard", Mode: "default",
		Reproduce: fmt.Sprintf("install %s %s on a cluster, then: meshperf conformance run --cluster CLUSTER --profile %s", opts.Mesh.Name, opts.Mesh.Version, profiles)}
}

func (rep *Report) add(p Profile, results []TestResult, opts Options) {
	pr := ProfileReport{Name: p.Name, Specification: p.Specification, Tests: results}
	var core Status
	ext := &ExtendedStatus{}
	hasExt := false
	for _, r := range results {
		st := &core
		if r.Extended {
			st, hasExt = &ext.Status, true
		}
		switch r.Outcome {
		case Pass:
			st.Statistics.Passed++
		case Fail:
			st.Statistics.Failed++
			st.FailedTests = append(st.FailedTests, r.Name)
		case Skip:
			st.Statistics.Skipped++
			st.SkippedTests = append(st.SkippedTests, r.Name)
		}
	}
	core.Result = resultOf(core.Statistics)
	pr.Core = core
	if hasExt || len(p.Extended) > 0 {
		ext.Result = resultOf(ext.Statistics)
		run := &run{opts: opts}
		for _, f := range p.Extended {
			if run.supported(p, f) {
				ext.SupportedFeatures = append(ext.SupportedFeatures, f)
			} else {
				ext.UnsupportedFeatures = append(ext.UnsupportedFeatures, f)
			}
		}
		pr.Extended = ext
	}
	if p.Name == ProfileSMI {
		pr.SMISpecs = specViews(results)
	}
	rep.Profiles = append(rep.Profiles, pr)
}

// resultOf is Gateway API's rule: any failure -> failure; else any skip -> partial;
// else success.
func resultOf(s Statistics) string {
	switch {
	case s.Failed > 0:
		return ResultFailure
	case s.Skipped > 0:
		return ResultPartial
	default:
		return ResultSuccess
	}
}

func specViews(results []TestResult) []SpecView {
	var out []SpecView
	idx := map[string]int{}
	for _, spec := range []string{SpecAccess, SpecSpecs, SpecSplit, SpecMetrics} {
		idx[spec] = len(out)
		out = append(out, SpecView{Spec: spec})
	}
	for _, r := range results {
		i, ok := idx[r.Spec]
		if !ok || r.Outcome == Skip {
			continue
		}
		for _, a := range r.Assertions {
			out[i].Assertions++
			if a.Passed {
				out[i].Passed++
			}
		}
	}
	for i := range out {
		v := &out[i]
		switch {
		case v.Assertions == 0:
			v.Capability, v.Status = "NONE", "SKIPPED"
			continue
		case v.Passed == v.Assertions:
			v.Capability = "FULL"
		case 2*v.Passed >= v.Assertions:
			v.Capability = "HALF"
		default:
			v.Capability = "NONE"
		}
		v.Status = "FAILED"
		if v.Capability == "FULL" {
			v.Status = "PASSED"
		}
		v.Percentage = 100 * v.Passed / v.Assertions
	}
	return out
}

// Conformant says whether every profile's core tests all passed.
func (rep *Report) Conformant() bool {
	for _, p := range rep.Profiles {
		if p.Core.Result != ResultSuccess {
			return false
		}
	}
	return len(rep.Profiles) > 0
}

// Formats a report is written in.
const (
	FormatYAML     = "yaml"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
	FormatJUnit    = "junit"
)

// Formats lists them.
var Formats = []string{FormatYAML, FormatJSON, FormatMarkdown, FormatJUnit}

// Write renders the report in a format.
func (rep *Report) Write(w io.Writer, format string) error {
	switch format {
	case FormatYAML, "yml":
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(rep); err != nil {
			return err
		}
		return enc.Close()
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case FormatMarkdown, "md":
		rep.markdown(w)
		return nil
	case FormatJUnit, "xml":
		return rep.junit(w)
	}
	return fmt.Errorf("format: %q is not one of %s", format, strings.Join(Formats, ", "))
}

// Decode reads a YAML or JSON report strictly: a field the report does not have is
// an error naming it.
func Decode(data []byte) (*Report, error) {
	var rep Report
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("report: empty")
	}
	if trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rep); err != nil {
			return nil, fmt.Errorf("report (JSON): %w", err)
		}
		if dec.More() {
			return nil, errors.New("report (JSON): more than one document")
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(trimmed))
		dec.KnownFields(true)
		if err := dec.Decode(&rep); err != nil {
			return nil, fmt.Errorf("report (YAML): %w", err)
		}
		var extra any
		if err := dec.Decode(&extra); err != io.EOF {
			return nil, errors.New("report (YAML): more than one document")
		}
	}
	if rep.Kind != ReportKind || rep.APIVersion != ReportAPIVersion {
		return nil, fmt.Errorf("report: kind %q apiVersion %q, want %s %s", rep.Kind, rep.APIVersion, ReportKind, ReportAPIVersion)
	}
	return &rep, nil
}

func (rep *Report) markdown(w io.Writer) {
	fmt.Fprintf(w, "# Conformance report: %s %s\n\n", orDash(rep.Mesh.Name), orDash(rep.Mesh.Version))
	fmt.Fprintf(w, "- Implementation: %s/%s %s (%s)\n", rep.Implementation.Organization, rep.Implementation.Project, rep.Implementation.Version, rep.Implementation.URL)
	if rep.Mesh.Cluster != "" {
		fmt.Fprintf(w, "- Cluster: %s\n", rep.Mesh.Cluster)
	}
	fmt.Fprintf(w, "- Date: %s\n- Gateway API: %s (%s channel), mode %s\n", rep.Date, rep.GatewayAPIVersion, rep.GatewayAPIChannel, rep.Mode)
	if rep.Signature != nil {
		fmt.Fprintf(w, "- Signed: %s key %s (check with `meshperf conformance verify` on the YAML or JSON report)\n", rep.Signature.Algorithm, rep.Signature.KeyID)
	} else {
		fmt.Fprintln(w, "- Not signed")
	}
	fmt.Fprintln(w)
	for _, p := range rep.Profiles {
		fmt.Fprintf(w, "## %s\n\n%s\n\n", p.Name, p.Specification)
		fmt.Fprintln(w, "| | result | passed | failed | skipped |\n|---|---|---|---|---|")
		fmt.Fprintf(w, "| core | **%s** | %d | %d | %d |\n", p.Core.Result, p.Core.Statistics.Passed, p.Core.Statistics.Failed, p.Core.Statistics.Skipped)
		if p.Extended != nil {
			e := p.Extended
			fmt.Fprintf(w, "| extended | **%s** | %d | %d | %d |\n", e.Result, e.Statistics.Passed, e.Statistics.Failed, e.Statistics.Skipped)
		}
		fmt.Fprintln(w)
		if p.Extended != nil && len(p.Extended.UnsupportedFeatures) > 0 {
			fmt.Fprintf(w, "Extended features not claimed: %s\n\n", joinFeatures(p.Extended.UnsupportedFeatures))
		}
		if len(p.SMISpecs) > 0 {
			fmt.Fprintln(w, "| SMI spec | assertions | passed | capability | status | % |\n|---|---|---|---|---|---|")
			for _, v := range p.SMISpecs {
				fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %d |\n", v.Spec, v.Assertions, v.Passed, v.Capability, v.Status, v.Percentage)
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, "| test | outcome | detail |\n|---|---|---|")
		for _, t := range p.Tests {
			detail := t.Description
			if t.Reason != "" {
				detail = t.Reason
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", t.Name, t.Outcome, mdEscape(detail))
		}
		fmt.Fprintln(w)
	}
	if rep.Reproduce != "" {
		fmt.Fprintf(w, "## How to reproduce\n\n%s\n", rep.Reproduce)
	}
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinFeatures(fs []Feature) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string     `xml:"name,attr"`
	Classname string     `xml:"classname,attr"`
	Time      string     `xml:"time,attr,omitempty"`
	Failure   *junitText `xml:"failure,omitempty"`
	Skipped   *junitText `xml:"skipped,omitempty"`
}

type junitText struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

func (rep *Report) junit(w io.Writer) error {
	out := junitSuites{Name: "meshperf conformance " + rep.Mesh.Name + " " + rep.Mesh.Version}
	for _, p := range rep.Profiles {
		s := junitSuite{Name: p.Name}
		for _, t := range p.Tests {
			c := junitCase{Name: t.Name, Classname: "conformance." + p.Name}
			if d, err := time.ParseDuration(t.Duration); err == nil {
				c.Time = fmt.Sprintf("%.3f", d.Seconds())
			}
			s.Tests++
			switch t.Outcome {
			case Fail:
				s.Failures++
				var body strings.Builder
				for _, a := range t.Assertions {
					fmt.Fprintf(&body, "%v %s: expected %s, observed %s\n", map[bool]string{true: "ok  ", false: "FAIL"}[a.Passed], a.Description, a.Expected, a.Observed)
				}
				c.Failure = &junitText{Message: t.Reason, Body: body.String()}
			case Skip:
				s.Skipped++
				c.Skipped = &junitText{Message: t.Reason}
			}
			s.Cases = append(s.Cases, c)
		}
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
