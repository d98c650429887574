package smp

import "strings"

// Overrides change a stored profile for one run (the CLI's --duration, --warmup,
// --rate, --connections and --label); the run records them. One type for the API's
// body, the client and the CLI.
type Overrides struct {
	Duration    Duration          `yaml:"duration,omitempty" json:"duration,omitempty"`
	Warmup      *Duration         `yaml:"warmup,omitempty" json:"warmup,omitempty"`
	RPS         *int64            `yaml:"rps,omitempty" json:"rps,omitempty"`
	Connections *int32            `yaml:"connections,omitempty" json:"connections,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// Apply changes cfg as the overrides say; the result is validated as any config.
func (o *Overrides) Apply(cfg *TestConfig) {
	if o.Duration > 0 {
		cfg.Duration = o.Duration
	}
	if o.Warmup != nil {
		cfg.Warmup = *o.Warmup
	}
	for i := range cfg.Clients {
		if o.RPS != nil {
			cfg.Clients[i].RPS = *o.RPS
		}
		if o.Connections != nil {
			cfg.Clients[i].Connections = *o.Connections
		}
	}
	for k, v := range o.Labels {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
}

// Field names a problem in the overridden config: by the override that set the
// field when there is one (overrides.rps for clients[2].rps), else by the profile's
// own path.
func (o *Overrides) Field(path string) string {
	switch {
	case path == "duration" && o.Duration > 0:
		return "overrides.duration"
	case path == "warmup" && o.Warmup != nil:
		return "overrides.warmup"
	case strings.HasPrefix(path, "labels") && len(o.Labels) > 0:
		return "overrides." + path
	case strings.HasPrefix(path, "clients[") && strings.HasSuffix(path, "].rps") && o.RPS != nil:
		return "overrides.rps"
	case strings.HasPrefix(path, "clients[") && strings.HasSuffix(path, "].connections") && o.Connections != nil:
		return "overrides.connections"
	case path == "clients" && o.Connections != nil:
		return "overrides.connections"
	}
	return path
}
