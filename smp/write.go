package smp

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Output formats for a result.
const (
	FormatJSON    = "json"     // the full meshperf result
	FormatYAML    = "yaml"     // the full meshperf result
	FormatCSV     = "csv"      // one row per interval, for spreadsheets and plots
	FormatSMP     = "smp"      // the SMP PerformanceTestResult, YAML
	FormatSMPJSON = "smp-json" // the SMP PerformanceTestResult, JSON
	FormatSMPEnv  = "smp-env"  // the SMP EnvironmentConfig the result's env_id names, YAML
	FormatSMPMesh = "smp-mesh" // the SMP ServiceMeshConfig of each mesh in the run's cluster, YAML documents
)

// OutputFormats lists what WriteResult accepts.
var OutputFormats = []string{FormatJSON, FormatYAML, FormatCSV, FormatSMP, FormatSMPJSON, FormatSMPEnv, FormatSMPMesh}

// WriteResult writes a result in one of OutputFormats.
func WriteResult(w io.Writer, r *Result, format string) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case FormatYAML:
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(r); err != nil {
			return err
		}
		return enc.Close()
	case FormatCSV:
		return writeCSV(w, r)
	case FormatSMP, FormatSMPJSON:
		f := "yaml"
		if format == FormatSMPJSON {
			f = "json"
		}
		b, err := MarshalSMP(ExportResult(r), f)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case FormatSMPEnv:
		b, err := MarshalSMP(ExportEnvironment(&r.Environment), "yaml")
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case FormatSMPMesh:
		b, err := marshalMeshConfigs(r)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("unknown output format %q (one of %v)", format, OutputFormats)
}

// CSVHeader is the first row WriteResult writes for FormatCSV.
var CSVHeader = []string{
	"source", "second", "start", "warmup", "requests", "successes", "errors", "rps",
	"p50_ms", "p90_ms", "p99_ms", "p99_9_ms", "max_ms", "send_lag_p99_ms",
	"bytes_sent", "bytes_received", "missed_sends",
}

func writeCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, iv := range r.Intervals {
		l := Summarize(iv.Latency)
		var lag float64
		if iv.SendLag != nil && iv.SendLag.Count() > 0 {
			lag = float64(iv.SendLag.Quantile(99)) / 1000
		}
		secs := iv.End.Sub(iv.Start).Seconds()
		var rps float64
		if secs > 0 {
			rps = float64(iv.Requests) / secs
		}
		row := []string{
			iv.Source, strconv.Itoa(iv.Index), iv.Start.UTC().Format(time.RFC3339Nano), strconv.FormatBool(iv.Warmup),
			i(iv.Requests), i(iv.Successes), i(iv.Requests - iv.Successes), f(rps),
			f(l.P50Ms), f(l.P90Ms), f(l.P99Ms), f(l.P999Ms), f(l.MaxMs), f(lag),
			i(iv.BytesSent), i(iv.BytesReceived), i(iv.MissedSends),
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteConfig writes a config as YAML (with meshperf's extensions).
func WriteConfig(w io.Writer, c *TestConfig) error { return writeYAML(w, c) }

func writeYAML(w io.Writer, v any) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}

// WriteJSON writes any value as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
