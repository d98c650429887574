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

	"github.com/meshperf/meshperf/operator"
)

func newBrokerCmd() *cobra.Command {
	opt := operator.BrokerOptions{}
	var tokenFile string
	cmd := &cobra.Command{
		Use:   "broker --server-url URL --token-file F",
		Short: "Run a cluster's in-cluster broker: a NATS leaf node that dials out to the server",
		Long: `Run the broker the operator deploys for a Broker resource: a NATS server for the cluster's
MeshSync that connects OUT to the meshperf server's leaf node listener (the server's
--nats-leaf-addr), so the cluster needs no inbound port. It proves its cluster with the
cluster's MeshSync credential ('meshperf cluster meshsync-credential'), which in-cluster
clients must present too. /healthz, /readyz (ready once connected) and /status are
served on --monitor-addr.`,
		Example: `  meshperf broker --server-url nats-leaf://meshperf.example.com:7422 --token-file /etc/meshperf/broker/token`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt.Token = os.Getenv("MESHPERF_MESHSYNC_TOKEN")
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return badInput(fmt.Errorf("--token-file: %w", err))
				}
				opt.Token = strings.TrimSpace(string(b))
			}
			if opt.ServerURL == "" {
				return badInput(errors.New("give --server-url (the server's leaf node listener)"))
			}
			if opt.Token == "" {
				return badInput(errors.New("give --token-file (or MESHPERF_MESHSYNC_TOKEN): the cluster's MeshSync credential"))
			}
			if _, err := operator.ClusterOfToken(opt.Token); err != nil {
				return badInput(fmt.Errorf("--token-file: %w", err))
			}
			opt.Version = version
			opt.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return operator.RunBroker(ctx, opt)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opt.ServerURL, "server-url", "", "the server's leaf node listener: nats-leaf://host:7422, tls://host:7422 or wss://host/path")
	fl.StringVar(&tokenFile, "token-file", "", "file holding the cluster's MeshSync credential (a mounted secret; default $MESHPERF_MESHSYNC_TOKEN)")
	fl.StringVar(&opt.Addr, "addr", "0.0.0.0:4222", "where in-cluster clients connect")
	fl.StringVar(&opt.MonitorAddr, "monitor-addr", "0.0.0.0:8222", "where /healthz, /readyz and /status are served (empty: not served)")
	return cmd
}
