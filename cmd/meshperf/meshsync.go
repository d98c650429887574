//go:build !generator

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/meshsync"
)

func newMeshSyncCmd() *cobra.Command {
	var kubeconfig, kctx, natsURL, token, tokenFile, creds, cluster string
	var scope meshsync.Scope
	cmd := &cobra.Command{
		Use:   "meshsync --nats-url URL [--kubeconfig F --context C] [scope flags]",
		Short: "Discover a cluster and publish its objects to a server's broker (operator mode)",
		Long: `Run MeshSync as its own process, the way the operator deploys it in a cluster: it watches
the cluster's API resources (built-in kinds and CRDs; metadata only except the kinds that
identify infrastructure), and publishes a snapshot, then every change, to the MESHSYNC
stream of the broker at --nats-url. Without --kubeconfig or --context it uses the pod's
service account. The server usually runs the same discovery embedded, per connection.`,
		Example: `  meshperf meshsync --nats-url nats://meshperf-broker:4222 --token-file /var/run/meshsync/token
  meshperf meshsync --kubeconfig ~/.kube/config --context c1 --nats-url nats://127.0.0.1:4223 \
    --exclude-namespaces kube-system --full-kinds gateways.gateway.networking.k8s.io`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = os.Getenv("MESHPERF_MESHSYNC_TOKEN")
			}
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return badInput(fmt.Errorf("--token-file: %w", err))
				}
				token = strings.TrimSpace(string(b))
			}
			if natsURL == "" {
				return badInput(errors.New("give --nats-url (the server's broker)"))
			}
			if err := scope.Check(); err != nil {
				return badInput(err)
			}
			cfg, err := meshsync.LoadConfig(kubeconfig, kctx)
			if err != nil {
				return badInput(err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if cluster == "" {
				if cluster, err = meshsync.ClusterID(ctx, cfg); err != nil {
					return err
				}
			}
			nc, err := meshsync.ConnectNATS(natsURL, cluster, meshsync.NATSAuth{Token: token, CredsFile: creds})
			if err != nil {
				return err
			}
			defer nc.Close()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			log.Info("meshsync: discovering", "cluster", cluster, "host", cfg.Host)
			return meshsync.Run(ctx, meshsync.Options{Cluster: cluster, Config: cfg, NC: nc, Mode: meshsync.ModeOperator,
				Scope: scope, Version: version, Logger: log})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster service account)")
	fl.StringVar(&kctx, "context", "", "kubeconfig context")
	fl.StringVar(&natsURL, "nats-url", "", "the server's broker, e.g. nats://127.0.0.1:4223")
	fl.StringVar(&token, "token", "", "broker token: the cluster's credential from 'meshperf cluster meshsync-credential' (prefer --token-file or MESHPERF_MESHSYNC_TOKEN: flags show in process lists)")
	fl.StringVar(&tokenFile, "token-file", "", "file holding the broker token (a mounted secret)")
	fl.StringVar(&creds, "creds", "", "NATS credentials file (JWT and seed) instead of a token")
	fl.StringVar(&cluster, "cluster", "", "cluster ID (default: the UID of namespace kube-system)")
	fl.StringSliceVar(&scope.IncludeKinds, "include-kinds", nil, "watch only these kinds (Pod, deployments.apps, ...)")
	fl.StringSliceVar(&scope.ExcludeKinds, "exclude-kinds", nil, "never watch these kinds")
	fl.StringSliceVar(&scope.IncludeNamespaces, "include-namespaces", nil, "watch only these namespaces (one watch each)")
	fl.StringSliceVar(&scope.ExcludeNamespaces, "exclude-namespaces", nil, "never watch these namespaces (field selectors)")
	fl.StringSliceVar(&scope.FullKinds, "full-kinds", nil, "also keep these kinds whole (trimmed), beyond the defaults")
	return cmd
}
