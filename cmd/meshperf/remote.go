package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/meshperf/meshperf/client"
	"github.com/meshperf/meshperf/smp"
)

// cliConfig is the CLI's config.yaml: the servers the CLI knows and which is current.
// It holds tokens, so it is written with mode 0600.
type cliConfig struct {
	Current  string       `yaml:"current"`
	Contexts []cliContext `yaml:"contexts"`
}

type cliContext struct {
	Name   string `yaml:"name"`
	Server string `yaml:"server"`
	Token  string `yaml:"token"`
}

// cliConfigPath is where the CLI keeps its contexts: $MESHPERF_CONFIG, else
// os.UserConfigDir()/meshperf/config.yaml (~/.config/meshperf on Linux, ~/Library/
// Application Support/meshperf on macOS). It used to be ~/.meshperf/config.yaml, inside
// the server's default --data-dir; see legacyCLIConfigPath.
func cliConfigPath() string {
	if p := os.Getenv("MESHPERF_CONFIG"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "meshperf", "config.yaml")
}

// legacyCLIConfigPath is the old place, still read while the new one does not exist;
// the next save (login, context use) writes the new place and leaves the old file be.
func legacyCLIConfigPath() string {
	if os.Getenv("MESHPERF_CONFIG") != "" {
		return ""
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".meshperf", "config.yaml")
}

func loadCLIConfig() (*cliConfig, error) {
	var c cliConfig
	path := cliConfigPath()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if old := legacyCLIConfigPath(); old != "" {
			path = old
			b, err = os.ReadFile(old)
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return &c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := smp.DecodeStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

func (c *cliConfig) save() error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	p := cliConfigPath()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(p, func(w io.Writer) error { _, err := w.Write(b); return err }, 0o600)
}

// remoteFlags select the server: --server/--token, else MESHPERF_SERVER/MESHPERF_TOKEN,
// else the current context.
type remoteFlags struct{ server, token, context string }

func (r *remoteFlags) add(cmd *cobra.Command) { r.addAs(cmd, "context") }

// addAs names the saved-context flag, for commands whose --context means something else
// (a kubeconfig context).
func (r *remoteFlags) addAs(cmd *cobra.Command, contextFlag string) {
	cmd.Flags().StringVar(&r.server, "server", "", "server URL (default: the current context, or MESHPERF_SERVER)")
	cmd.Flags().StringVar(&r.token, "token", "", "API token (default: the current context, or MESHPERF_TOKEN)")
	cmd.Flags().StringVar(&r.context, contextFlag, "", "use this saved meshperf context instead of the current one")
}

func (r *remoteFlags) client() (*client.Client, error) {
	server, token := r.server, r.token
	if server == "" {
		server = os.Getenv("MESHPERF_SERVER")
	}
	if token == "" {
		token = os.Getenv("MESHPERF_TOKEN")
	}
	if server == "" || token == "" {
		cfg, err := loadCLIConfig()
		if err != nil {
			return nil, err
		}
		name := r.context
		if name == "" {
			name = cfg.Current
		}
		for _, c := range cfg.Contexts {
			if c.Name == name {
				if server == "" {
					server = c.Server
				}
				if token == "" {
					token = c.Token
				}
			}
		}
	}
	if server == "" {
		return nil, badInput(errors.New("no server: run `meshperf login --server URL --token T` first, or give --server"))
	}
	return client.New(server, token), nil
}

// remoteErr turns the server's bad-input answers into exit code 2.
func remoteErr(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.IsInput() {
		return badInput(err)
	}
	return err
}

func writeJSONOut(w io.Writer, v any) error {
	return smp.WriteJSON(w, v)
}

// writeYAMLOut writes v as YAML with its JSON field names (the API's), by way of its
// JSON: JSON is YAML, and yaml.v3 keeps the keys' order.
func writeYAMLOut(w io.Writer, v any) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(js, &n); err != nil {
		return err
	}
	styleBlock(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	return enc.Close()
}

// styleBlock undoes the flow style the JSON input gave every node.
func styleBlock(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		n.Style &^= yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		styleBlock(c)
	}
}
