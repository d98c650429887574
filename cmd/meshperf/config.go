package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
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

// buildConfig reads -f (if any) and applies the flags that were given.
func buildConfig(cmd *cobra.Command, f *runFlags) (*smp.TestConfig, error) {
	cfg := &smp.TestConfig{}
	if f.file != "" {
		var err error
		if cfg, err = decodeConfigFile(f.file); err != nil {
			return nil, err
		}
	} else {
		if len(f.urls) == 0 {
			return nil, errors.New("give --url (or -f with a config file)")
		}
		cfg.Clients = []smp.Client{{}}
	}
	var errs smp.FieldErrors
	changed := cmd.Flags().Changed
	if changed("duration") {
		d, err := parseFlagDuration(f.duration)
		if err != nil {
			errs.Add("--duration", 0, "%v", err)
		}
		cfg.Duration = d
		stagesFit(cfg, f.scaleStages, &errs)
	}
	if changed("warmup") {
		d, err := parseFlagDuration(f.warmup)
		if err != nil {
			errs.Add("--warmup", 0, "%v", err)
		}
		cfg.Warmup = d
	}
	if changed("name") {
		cfg.Name = f.name
	}
	for _, l := range f.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			errs.Add("--label", 0, "%q is not key=value", l)
			continue
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	for _, th := range f.thresholds {
		if _, err := perf.ParseThreshold(smp.Threshold{Expr: th}); err != nil {
			errs.Add("--threshold", 0, "%v", err)
			continue
		}
		cfg.Thresholds = append(cfg.Thresholds, smp.Threshold{Expr: th})
	}
	applyClientFlags(cmd, f, cfg, &errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	cfg.ApplyDefaults()
	return cfg, nil
}

// applyClientFlags applies the per-client flags (--url, --rate, --header, ...) to every
// client of the config: with -f they override the file's clients alike.
func applyClientFlags(cmd *cobra.Command, f *runFlags, cfg *smp.TestConfig, errs *smp.FieldErrors) {
	changed := cmd.Flags().Changed
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		if changed("url") {
			c.EndpointURLs = f.urls
		}
		if changed("rate") {
			c.RPS = f.rate
		}
		if changed("connections") {
			c.Connections = f.connections
		}
		if changed("method") {
			c.Method = f.method
		}
		if changed("body") {
			c.Body = f.body
		}
		if changed("content-type") {
			c.ContentType = f.contentType
		}
		if changed("engine") {
			c.LoadGenerator = f.engine
		}
		if changed("protocol") {
			p, err := smp.ParseProtocol(f.protocol)
			if err != nil {
				errs.Add("--protocol", 0, "%v", err)
			}
			c.Protocol = p
		}
		if changed("model") {
			m, err := smp.ParseLoadModel(f.model)
			if err != nil {
				errs.Add("--model", 0, "%v", err)
			}
			c.Model = m
		}
		if changed("timeout") {
			d, err := parseFlagDuration(f.timeout)
			if err != nil {
				errs.Add("--timeout", 0, "%v", err)
			}
			c.Timeout = d
		}
		if f.http2 {
			c.HTTPVersion = "2"
		}
		if changed("grpc-call") {
			c.GRPC = &smp.GRPCOptions{Call: f.grpcCall}
		}
		if changed("payload-bytes") {
			c.PayloadBytes = f.payload
		}
		if f.insecure {
			c.InsecureSkipVerify = true
		}
		if changed("ca-cert") {
			c.SSLCertificate = f.caCert
		}
		for _, h := range f.headers {
			k, v, ok := strings.Cut(h, ":")
			if !ok || strings.TrimSpace(k) == "" {
				errs.Add("--header", 0, "%q is not \"Name: value\"", h)
				continue
			}
			if c.Headers == nil {
				c.Headers = map[string]string{}
			}
			c.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
}

// parseFlagDuration is smp.ParseDuration for flags, without the bare number: a config
// file's `duration: 3` is seconds as SMP has it, but on a command line `--duration 3`
// is more often a slip (3 minutes? 3 seconds?), so it is refused with the likely fix.
func parseFlagDuration(s string) (smp.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil && n != 0 {
		return 0, fmt.Errorf("%q has no unit: did you mean %ss (or %sm)?", s, s, s)
	}
	return smp.ParseDuration(s)
}

// stagesFit checks stages against a --duration given on the command line. Stages are
// part of the measured window, so a shorter test cannot hold them: say so with the two
// ways out, or scale them when asked.
func stagesFit(cfg *smp.TestConfig, scale bool, errs *smp.FieldErrors) {
	to := cfg.Duration.D()
	if to <= 0 {
		return
	}
	for i := range cfg.Clients {
		total := cfg.Clients[i].StagesDuration()
		switch {
		case total == 0:
		case scale:
			scaleStages(cfg, to)
			return
		case total > to:
			errs.Add("--duration", 0, "%v is shorter than clients[%d].stages, which last %v (stages are part of the test's duration): add --scale-stages to shrink every stage in proportion, or give --duration %v or more", to, i, total, total)
			return
		}
	}
}
