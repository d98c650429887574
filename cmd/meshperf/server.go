//go:build !generator

package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/meshperf/meshperf/server"
)

func newServerCmd() *cobra.Command {
	var (
		cfg            server.Config
		tokenFile      string
		agentTokenFile string
		logFormat      string
		allowedCSV     []string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the management backend: REST API, store, runs",
		Long: `Run meshperf's management backend. With no options it keeps its state in a SQLite
file under --data-dir; --database-url points it at PostgreSQL instead (several replicas
may share one database).

On first start it creates the user admin with the token from MESHPERF_ADMIN_TOKEN or
--admin-token-file, or else prints a generated token once.

Every flag falls back to an environment variable MESHPERF_<FLAG> (dashes as underscores).`,
		Example: `  meshperf server
  MESHPERF_ADMIN_TOKEN=$(cat token) meshperf server --addr 0.0.0.0:9081
  meshperf server --database-url postgres://meshperf@db:5432/meshperf --allow-target 10.0.0.0/8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envFallback(cmd); err != nil {
				return badInput(err)
			}
			cfg.AllowedTargets = allowedCSV
			cfg.AdminToken = os.Getenv("MESHPERF_ADMIN_TOKEN")
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return badInput(fmt.Errorf("--admin-token-file: %w", err))
				}
				cfg.AdminToken = strings.TrimSpace(string(b))
			}
			// MESHPERF_AGENT_TOKEN is now an agent's own credential (meshperf agent reads
			// it), so the server ignores it; the old --agent-token-file is refused.
			if agentTokenFile != "" {
				b, err := os.ReadFile(agentTokenFile)
				if err != nil {
					return badInput(fmt.Errorf("--agent-token-file: %w", err))
				}
				cfg.AgentToken = strings.TrimSpace(string(b))
			}
			var h slog.Handler
			switch logFormat {
			case "text":
				h = slog.NewTextHandler(os.Stderr, nil)
			case "json":
				h = slog.NewJSONHandler(os.Stderr, nil)
			default:
				return badInput(fmt.Errorf("--log-format must be text or json"))
			}
			cfg.Logger = slog.New(h)
			if os.Getenv("MESHPERF_AGENT_TOKEN") != "" {
				cfg.Logger.Warn("MESHPERF_AGENT_TOKEN is ignored by the server: agents have their own credentials (meshperf agent credential create NAME)")
			}
			cfg.Version = version
			cfg.Out = cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return server.Run(ctx, cfg)
		},
	}
	home, _ := os.UserHomeDir()
	fl := cmd.Flags()
	fl.StringVar(&cfg.Addr, "addr", "127.0.0.1:9081", "listen address")
	fl.StringVar(&cfg.DataDir, "data-dir", filepath.Join(home, ".meshperf"), "state directory (the SQLite file)")
	fl.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://...); empty: SQLite under --data-dir")
	fl.StringVar(&tokenFile, "admin-token-file", "", "file holding the first admin's token (else MESHPERF_ADMIN_TOKEN, else generated)")
	fl.BoolVar(&cfg.AnonymousRead, "anonymous-read", false, "let requests without a token read (never write)")
	fl.StringSliceVar(&allowedCSV, "allow-target", nil, "restrict load targets: CIDRs, IPs, host names or globs (repeatable; empty: any)")
	fl.StringVar(&cfg.InstanceID, "instance-id", "", "name of this server in the runs it executes (default host@addr)")
	fl.IntVar(&cfg.Concurrency, "max-concurrent-runs", 1, "runs executed at once; more queue")
	fl.IntVar(&cfg.MaxQueuedRuns, "max-queued-runs", 1000, "runs that may wait in the queue; more are refused (429)")
	fl.IntVar(&cfg.MaxQueuedRunsPerUser, "max-queued-runs-per-user", 100, "runs one user or schedule may have waiting; more are refused (429)")
	fl.IntVar(&cfg.MaxRunConnections, "max-run-connections", 10000, "connections (requests in flight) one run may use, at most 10000")
	fl.IntVar(&cfg.HTTP.MaxConns, "max-http-connections", 1024, "API connections open at once; more wait")
	fl.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&cfg.NATSAddr, "nats-addr", "127.0.0.1:4223", "where the embedded NATS (JetStream) listens for agents")
	fl.StringVar(&cfg.NATSLeafAddr, "nats-leaf-addr", "", "where the embedded NATS accepts clusters' in-cluster brokers as leaf nodes (operator mode: clusters dial out; e.g. 0.0.0.0:7422; each proves its cluster with its MeshSync credential)")
	fl.StringVar(&cfg.NATSURL, "nats-url", "", "use this external NATS with JetStream instead (nats://user:pass@host:4222)")
	fl.StringVar(&cfg.SecretKeyFile, "secret-key-file", "", "key that seals cluster credentials at rest (default --data-dir/secret.key, generated on first start; replicas share it)")
	fl.DurationVar(&cfg.ClusterCheckInterval, "cluster-check-interval", 30*time.Second, "how often cluster connections are health-checked")
	fl.StringVar(&cfg.AgentBrokerURL, "agent-broker-url", "", "broker URL agents deployed into clusters use (else each cluster's meshperf-broker Service)")
	fl.BoolVar(&cfg.DisableOperator, "disable-operator", false, "forbid operator mode: never install the in-cluster operator; switching a connection to operator mode is refused")
	fl.StringVar(&cfg.OperatorImage, "operator-image", "ghcr.io/meshperf/meshperf:"+imageTag(), "image of the in-cluster operator, broker and MeshSync (the full build)")
	fl.StringVar(&cfg.OperatorBrokerURL, "operator-broker-url", "", "the leaf node listener as clusters reach it, e.g. nats-leaf://meshperf.example.com:7422 (default: the --nats-leaf-addr listener)")
	fl.StringVar(&cfg.OperatorNamespace, "operator-namespace", "", "namespace the operator is installed into (default meshperf-system)")
	fl.StringVar(&cfg.MeshSyncMode, "meshsync-mode", "embedded", "how connected clusters are discovered unless a connection says otherwise: embedded (MeshSync runs in this server) or operator (in the cluster)")
	fl.StringVar(&cfg.AgentImage, "agent-image", "ghcr.io/meshperf/meshperf-generator:"+imageTag(), "image of agents deployed into clusters (the generator build: make image)")
	fl.StringVar(&cfg.AgentKeyFile, "agent-key-file", "", "key agents' credentials are issued under (default --data-dir/agent-credentials.key, generated on first start; replicas share it; replacing it revokes every credential)")
	fl.StringVar(&agentTokenFile, "agent-token-file", "", "no longer accepted: agents have their own credentials (meshperf agent credential create NAME)")
	_ = fl.MarkHidden("agent-token-file")
	return cmd
}

// releaseVersion matches the versions of released binaries (v1.2.3).
var releaseVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+$`)

// imageTag is the agent image tag matching this binary ("latest" for development
// builds, whose version is a commit).
func imageTag() string {
	if releaseVersion.MatchString(version) {
		return "v" + strings.TrimPrefix(version, "v")
	}
	return "latest"
}

// envFallback sets every flag not given on the command line from MESHPERF_<FLAG>.
func envFallback(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "MESHPERF_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && name != "MESHPERF_ADMIN_TOKEN" && name != "MESHPERF_AGENT_TOKEN" {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	return err
}
