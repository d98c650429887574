//go:build !generator

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/meshsync"
	"github.com/meshperf/meshperf/operator"
)

func newOperatorCmd() *cobra.Command {
	var kubeconfig, kctx, image string
	mo := operator.ManagerOptions{}
	cmd := &cobra.Command{
		Use:   "operator [--image IMAGE] [--leader-elect]",
		Short: "Run the in-cluster operator for the Broker and MeshSync resources (operator mode)",
		Long: `Run meshperf's operator in a cluster: it reconciles meshperf.io/v1alpha1 Broker resources
(an in-cluster NATS that dials OUT to the server's broker as a leaf node, so the cluster
needs no inbound port) and MeshSync resources (a Deployment of 'meshperf meshsync' with
its scope and a read-only grant of exactly what it watches). The server installs it for
connections in operator mode. /healthz and /readyz are served on --health-addr.`,
		Example: `  meshperf operator --image ghcr.io/meshperf/meshperf:v1 --leader-elect
  meshperf operator --kubeconfig ~/.kube/config --context c1 --health-addr 127.0.0.1:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if image == "" {
				image = os.Getenv("MESHPERF_IMAGE")
			}
			if image == "" {
				return badInput(errors.New("give --image (or MESHPERF_IMAGE): the image brokers and MeshSyncs run"))
			}
			if mo.LeaderElection && mo.LeaderElectionNamespace == "" {
				mo.LeaderElectionNamespace = os.Getenv("POD_NAMESPACE")
			}
			cfg, err := meshsync.LoadConfig(kubeconfig, kctx)
			if err != nil {
				return badInput(err)
			}
			if mo.LeaderElection && mo.LeaderElectionNamespace == "" && (kubeconfig != "" || kctx != "") {
				return badInput(errors.New("--leader-elect outside a cluster needs --leader-election-namespace"))
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			mo.Logger = logr.FromSlogHandler(log.Handler())
			mgr, err := operator.NewManager(cfg, mo, operator.Options{Image: image, Version: version, Logger: log})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log.Info("operator: starting", "host", cfg.Host, "image", image, "leader_election", mo.LeaderElection, "health", mo.HealthAddr)
			if err := mgr.Start(ctx); err != nil {
				return fmt.Errorf("operator: %w", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster service account)")
	fl.StringVar(&kctx, "context", "", "kubeconfig context")
	fl.StringVar(&image, "image", "", "the meshperf image brokers and MeshSyncs run unless their spec names one (default $MESHPERF_IMAGE)")
	fl.StringVar(&mo.HealthAddr, "health-addr", ":8081", "where /healthz and /readyz are served")
	fl.StringVar(&mo.MetricsAddr, "metrics-addr", "0", "where controller metrics are served (0: not served)")
	fl.BoolVar(&mo.LeaderElection, "leader-elect", false, "elect a leader among replicas (a Lease in --leader-election-namespace)")
	fl.StringVar(&mo.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader Lease (default $POD_NAMESPACE)")
	fl.StringVar(&mo.Namespace, "namespace", "", "reconcile only this namespace's resources (default: all)")
	return cmd
}
