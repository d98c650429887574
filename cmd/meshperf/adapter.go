//go:build !generator

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/adapters/adapter"
	"github.com/meshperf/meshperf/adapters/helmmesh"
	"github.com/meshperf/meshperf/adapters/istio"
	"github.com/meshperf/meshperf/adapters/linkerd"
	"github.com/meshperf/meshperf/client"
)

func newAdapterCmd() *cobra.Command {
	var (
		mesh, listen, advertise, serverURL, token, chartRepo, sampleImage string
		clusterTimeout                                                    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "adapter --mesh istio|linkerd",
		Short: "Run a mesh adapter (gRPC) that installs and configures one mesh on many clusters at once",
		Long: `Serve meshperf's adapter contract (gRPC meshperf.adapter.v1.Adapter, with gRPC health
and reflection) for one mesh, installing it from its official Helm charts. With --server
the adapter registers with meshperf's server (and keeps doing so, retrying with back-off
while the server is away); the server then sends it operations with the kubeconfigs of
the selected clusters. Ports by convention: istio 10000, linkerd 10001.`,
		Example: `  meshperf adapter --mesh istio --listen 127.0.0.1:10000 --server http://127.0.0.1:8000
  meshperf adapter --mesh linkerd --listen :10001 --advertise linkerd-adapter:10001 --server http://meshperf:8000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = os.Getenv("MESHPERF_TOKEN")
			}
			if serverURL == "" {
				serverURL = os.Getenv("MESHPERF_SERVER")
			}
			m, err := adapterMesh(mesh, chartRepo, sampleImage)
			if err != nil {
				return badInput(err)
			}
			if !cmd.Flags().Changed("listen") && mesh == "linkerd" {
				listen = "127.0.0.1:10001" // by convention: istio 10000, linkerd 10001
			}
			lis, err := net.Listen("tcp", listen)
			if err != nil {
				return badInput(fmt.Errorf("--listen: %w", err))
			}
			if advertise == "" {
				advertise = lis.Addr().String()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			srv := adapter.NewServer(ctx, m, adapter.Options{Version: version, ClusterTimeout: clusterTimeout, Logger: log})
			fmt.Fprintf(cmd.OutOrStdout(), "meshperf %s adapter %s listening on %s (charts: %s)\n", mesh, version, lis.Addr(), m.Source())
			if serverURL != "" {
				r := &adapter.Registrar{Server: serverURL, Token: token, Address: advertise, Mesh: mesh, Logger: log}
				go r.Run(ctx)
			}
			return srv.Serve(ctx, lis)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&mesh, "mesh", "", "the mesh: istio or linkerd")
	fl.StringVar(&listen, "listen", "127.0.0.1:10000", "gRPC listen address (default port: istio 10000, linkerd 10001)")
	fl.StringVar(&advertise, "advertise", "", "host:port the server dials (default: the listen address)")
	fl.StringVar(&serverURL, "server", "", "meshperf server to register with (default MESHPERF_SERVER; empty: no registration)")
	fl.StringVar(&token, "token", "", "API token of an admin, to register (prefer MESHPERF_TOKEN: flags show in process lists)")
	fl.StringVar(&chartRepo, "chart-repo", "", "Helm chart repository (default: the mesh's official one)")
	fl.StringVar(&sampleImage, "sample-image", "ghcr.io/meshperf/meshperf:"+imageTag(), "image of the sample app (meshperf target)")
	fl.DurationVar(&clusterTimeout, "cluster-timeout", 5*time.Minute, "default deadline of an operation on one cluster")
	cmd.AddCommand(newAdapterListCmd())
	return cmd
}

func adapterMesh(mesh, repo, image string) (*helmmesh.Mesh, error) {
	switch mesh {
	case "istio":
		return istio.New(repo, image), nil
	case "linkerd":
		return linkerd.New(repo, image), nil
	case "":
		return nil, errors.New("--mesh: missing (istio or linkerd)")
	}
	return nil, fmt.Errorf("--mesh %q: want istio or linkerd", mesh)
}

func newAdapterListCmd() *cobra.Command {
	var rf remoteFlags
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the adapters registered with the server: mesh, versions, operations, health",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			items, err := c.Adapters(cmd.Context())
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &out, adapterTable, items, nil)
		},
	}
	out.add(cmd)
	rf.add(cmd)
	return cmd
}

var adapterTable = table[client.Adapter]{
	columns: []string{"MESH", "ADDRESS", "VERSION", "HEALTHY", "MESH VERSIONS", "OPERATIONS"},
	row: func(a client.Adapter) []string {
		var ops []string
		for _, o := range a.Operations {
			if o.Implemented {
				ops = append(ops, o.Kind)
			}
		}
		vs := a.MeshVersions
		if len(vs) > 4 {
			vs = append(vs[:4:4], fmt.Sprintf("(+%d)", len(a.MeshVersions)-4))
		}
		h := "yes"
		if !a.Healthy {
			h = "no: " + a.LastError
		}
		return []string{a.Mesh, a.Address, orDash(a.AdapterVersion), h, orDash(strings.Join(vs, " ")), strings.Join(ops, ",")}
	},
	empty: "no adapters registered (start one: meshperf adapter --mesh istio --server URL)",
}
