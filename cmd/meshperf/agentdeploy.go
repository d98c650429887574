package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
)

func ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return time.Since(*t).Round(time.Second).String() + " ago"
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// newAgentDeployCmds are `agent deploy` and `agent undeploy`.
func newAgentDeployCmds() []*cobra.Command {
	var rf remoteFlags
	var clusters []string
	var replicas int32
	var image, namespace, endpoint, output string
	var wait time.Duration
	deploy := &cobra.Command{
		Use:   "deploy --cluster NAME [--cluster NAME ...] --replicas N [--image IMAGE]",
		Short: "Deploy agents into connected clusters (idempotent; each cluster reports alone)",
		Long: `Create or update, with server-side apply, a namespace, a service account (no API token
mounted: agents never call the API server), a secret holding the broker credentials and
a Deployment of 'meshperf agent' labelled meshperf.io/cluster=NAME. Runs select these
agents with agents.selector: {meshperf.io/cluster: NAME}. The broker endpoint is
--broker-endpoint, else the server's --agent-broker-url, else the meshperf-broker
Service in the namespace (load balancer hostname, its IP, NodePort, ClusterIP).`,
		Example: `  meshperf agent deploy --cluster c1 --cluster c2 --replicas 3
  meshperf agent deploy --cluster prod-eu --replicas 10 --broker-endpoint nats://broker.example.com:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(clusters) == 0 {
				return badInput(errors.New("--cluster: name at least one cluster"))
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "deploying %d agent(s) to %s ...\n", replicas, strings.Join(clusters, ", "))
			rs, err := c.DeployAgents(cmd.Context(), client.DeployAgents{Clusters: clusters, Replicas: replicas, Image: image,
				Namespace: namespace, BrokerEndpoint: endpoint, WaitSeconds: int(wait.Seconds())})
			if err != nil {
				return remoteErr(err)
			}
			return deployReports(cmd.OutOrStdout(), rs, output, true)
		},
	}
	fl := deploy.Flags()
	fl.StringSliceVar(&clusters, "cluster", nil, "cluster connection (repeatable)")
	fl.Int32Var(&replicas, "replicas", 1, "agents per cluster")
	fl.StringVar(&image, "image", "", "agent image (default: the server's --agent-image)")
	fl.StringVar(&namespace, "namespace", "", "namespace (default meshperf)")
	fl.StringVar(&endpoint, "broker-endpoint", "", "NATS URL the agents use (overrides the server's choice)")
	fl.DurationVar(&wait, "wait", 2*time.Minute, "wait this long for the agents to be ready (0: do not wait)")
	fl.StringVarP(&output, "output", "o", "", "json for scripts")
	rf.add(deploy)

	var urf remoteFlags
	var uclusters []string
	var unamespace, uoutput string
	undeploy := &cobra.Command{
		Use:   "undeploy --cluster NAME [--cluster NAME ...]",
		Short: "Remove the agents from clusters (and their namespace when meshperf created it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(uclusters) == 0 {
				return badInput(errors.New("--cluster: name at least one cluster"))
			}
			c, err := urf.client()
			if err != nil {
				return err
			}
			rs, err := c.UndeployAgents(cmd.Context(), uclusters, unamespace)
			if err != nil {
				return remoteErr(err)
			}
			return deployReports(cmd.OutOrStdout(), rs, uoutput, false)
		},
	}
	undeploy.Flags().StringSliceVar(&uclusters, "cluster", nil, "cluster connection (repeatable)")
	undeploy.Flags().StringVar(&unamespace, "namespace", "", "namespace (default meshperf)")
	undeploy.Flags().StringVarP(&uoutput, "output", "o", "", "json for scripts")
	urf.add(undeploy)

	var lrf remoteFlags
	var loutput string
	deployments := &cobra.Command{
		Use: "deployments", Short: "List the agents deployed into clusters: replicas, ready, broker, status", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := lrf.client()
			if err != nil {
				return err
			}
			ds, err := c.AgentDeployments(cmd.Context())
			if err != nil {
				return remoteErr(err)
			}
			if loutput == "json" {
				return writeJSONOut(cmd.OutOrStdout(), ds)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLUSTER\tNAMESPACE\tREADY\tSTATUS\tIMAGE\tBROKER\tUPDATED")
			for _, d := range ds {
				fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s (%s)\t%s\n", d.Cluster, d.Namespace, d.Ready, d.Replicas, d.Status,
					d.Image, d.BrokerEndpoint, d.BrokerSource, ago(&d.UpdatedAt))
			}
			return tw.Flush()
		},
	}
	deployments.Flags().StringVarP(&loutput, "output", "o", "", "json for scripts")
	lrf.add(deployments)
	return []*cobra.Command{deploy, undeploy, deployments}
}

// deployReports prints one line per cluster and fails when any cluster failed.
func deployReports(w io.Writer, rs []client.AgentDeployReport, output string, deploying bool) error {
	failed := 0
	for _, r := range rs {
		if !r.OK {
			failed++
		}
	}
	if output == "json" {
		if err := writeJSONOut(w, rs); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if deploying {
			fmt.Fprintln(tw, "CLUSTER\tRESULT\tREADY\tBROKER\tTIME\tERROR")
		} else {
			fmt.Fprintln(tw, "CLUSTER\tRESULT\tREMOVED\tTIME\tERROR")
		}
		for _, r := range rs {
			res := "ok"
			if !r.OK {
				res = "failed"
			}
			if deploying {
				broker := "-"
				if r.Endpoint != nil {
					broker = r.Endpoint.URL + " (" + r.Endpoint.Source + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%.1fs\t%s\n", r.Cluster, res, r.Ready, r.Replicas, broker, r.Seconds, r.Error)
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fs\t%s\n", r.Cluster, res, strings.Join(r.Objects, ","), r.Seconds, r.Error)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d clusters failed", failed, len(rs))
	}
	return nil
}
