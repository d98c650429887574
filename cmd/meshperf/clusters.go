package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/client"
	"github.com/meshperf/meshperf/kube"
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Connect a server to Kubernetes clusters and look after the connections",
		Long: `Each kubeconfig context becomes a connection; a cluster is known once, by the UID of its
kube-system namespace. Connections are discovered, connected, disconnected (a health
check failed; retried), ignored, in maintenance, or deleted. Credentials are sealed at
rest on the server and never logged.

Give each context least-privilege credentials: a service account token bound to the
roles meshperf needs (read namespaces and nodes; manage the agents' namespace), not a
cluster admin. Exec plugins and auth providers are refused: the server would have to
run them.`,
	}
	var rf remoteFlags
	var output string
	var listOut outputFlag
	outFlag := func(c *cobra.Command) {
		c.Flags().StringVarP(&output, "output", "o", "", "json for scripts")
		rf.add(c)
	}

	var kubeconfig string
	var contexts []string
	var discoverOnly bool
	add := &cobra.Command{
		Use:   "add --kubeconfig FILE [--context NAME ...]",
		Short: "Add the contexts of a kubeconfig as connections (default: every context)",
		Example: `  meshperf cluster add --kubeconfig ~/.kube/config --context prod-eu --context prod-us
  meshperf cluster add --kubeconfig ci.kubeconfig --discover-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := kubeconfig
			if path == "" {
				path = defaultKubeconfig()
			}
			var raw []byte
			var err error
			if path == "-" {
				raw, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), kube.MaxKubeconfigBytes+1))
				path = ""
			} else {
				raw, err = os.ReadFile(path)
			}
			if err != nil {
				return badInput(fmt.Errorf("--kubeconfig: %w", err))
			}
			// Files the kubeconfig names are read here, on the user's machine; the server
			// never reads files on a user's behalf.
			inlined, err := kube.Inline(raw, path)
			if err != nil {
				return badInput(fmt.Errorf("--kubeconfig %s: %w", path, err))
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "checking each context's cluster (identity, version, nodes) ...")
			res, err := c.AddClusters(cmd.Context(), inlined, contexts, discoverOnly)
			if err != nil {
				return remoteErr(err)
			}
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), res)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CONTEXT\tOUTCOME\tSTATE\tVERSION\tNODES\tCLUSTER UID\tNOTE")
			failed := 0
			for _, r := range res {
				note := r.Error
				if r.DuplicateOf != "" {
					note = "same cluster as " + r.DuplicateOf
				}
				if r.Connection == nil {
					failed++
					fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t%s\n", r.Context, r.Outcome, note)
					continue
				}
				v := r.Connection
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Context, r.Outcome, v.State, v.Version, v.NodeCount, v.ClusterUID, note)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d contexts could not be added", failed, len(res))
			}
			return nil
		},
	}
	add.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file, - for standard input (default $KUBECONFIG, else ~/.kube/config)")
	add.Flags().StringSliceVar(&contexts, "context", nil, "context to add (repeatable; default: all)")
	add.Flags().BoolVar(&discoverOnly, "discover-only", false, "add as discovered; connect later with: cluster state NAME connected")
	add.Flags().StringVarP(&output, "output", "o", "", "json for scripts")
	rf.addAs(add, "meshperf-context")

	list := &cobra.Command{
		Use: "list", Short: "List connections: state, version, nodes, last check", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			cs, err := c.Clusters(cmd.Context())
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &listOut, clusterTable, cs, nil)
		},
	}
	listOut.add(list)
	rf.add(list)

	get := &cobra.Command{
		Use: "get NAME", Short: "Show a connection and its nodes", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			v, err := c.Cluster(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			if err := clusterDetail(cmd.OutOrStdout(), v, output); err != nil || output == "json" {
				return err
			}
			// Discovery, and in operator mode the in-cluster components (the same as
			// GET /api/v1/clusters/NAME/discovery).
			if h, err := c.DiscoveryHealth(cmd.Context(), args[0]); err == nil {
				discoveryDetail(cmd.OutOrStdout(), h)
			}
			return nil
		},
	}
	outFlag(get)

	check := &cobra.Command{
		Use: "check NAME", Short: "Check a connection's health now", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			v, err := c.CheckCluster(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			if err := clusterDetail(cmd.OutOrStdout(), v, output); err != nil {
				return err
			}
			if v.LastError != "" {
				return fmt.Errorf("%s: %s", v.Name, v.LastError)
			}
			return nil
		},
	}
	outFlag(check)

	state := &cobra.Command{
		Use:   "state NAME STATE",
		Short: "Move a connection to another state: connected, maintenance, ignored, discovered, deleted",
		Example: `  meshperf cluster state prod-eu maintenance
  meshperf cluster state prod-eu connected`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := client.CheckClusterState(args[1]); err != nil {
				return badInput(err)
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			v, err := c.SetClusterState(cmd.Context(), args[0], args[1])
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is %s\n", v.Name, v.State)
			if v.LastError != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "last check: %s\n", v.LastError)
			}
			return nil
		},
	}
	rf.add(state)

	remove := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a connection and flush everything stored about its cluster",
		Long: `Remove a connection: everything the server stored about its cluster (credential, nodes,
agent deployment records) is deleted; other clusters are untouched. Nothing in the
cluster itself changes: run 'meshperf agent undeploy --cluster NAME' first to take the
agents out.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			f, err := c.RemoveCluster(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s: flushed %d node(s) and %d agent deployment record(s)\n", args[0], f.Nodes, f.AgentDeployments)
			return nil
		},
	}
	rf.add(remove)

	cmd.AddCommand(add, list, get, check, state, remove, newMeshSyncCredentialCmd())
	return cmd
}

func defaultKubeconfig() string {
	if k := os.Getenv("KUBECONFIG"); k != "" {
		return strings.Split(k, string(os.PathListSeparator))[0]
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".kube", "config")
}

func ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return time.Since(*t).Round(time.Second).String() + " ago"
}

var clusterTable = table[client.Cluster]{
	columns: []string{"NAME", "STATE", "VERSION", "NODES", "LAST CHECK", "SERVER", "LAST ERROR"},
	row: func(v client.Cluster) []string {
		return []string{v.Name, v.State, v.Version, fmt.Sprint(v.NodeCount), ago(v.LastCheck), v.Server, shorten(v.LastError, 60)}
	},
	empty: "no clusters; add some with: meshperf cluster add --kubeconfig FILE",
}

func clusterDetail(w io.Writer, v *client.Cluster, output string) error {
	if output == "json" {
		return writeJSONOut(w, v)
	}
	fmt.Fprintf(w, "Name:         %s\nState:        %s (since %s)\nServer:       %s\nCluster UID:  %s\nVersion:      %s\nLast check:   %s\n",
		v.Name, v.State, v.StateChangedAt.Format(time.RFC3339), v.Server, v.ClusterUID, v.Version, ago(v.LastCheck))
	if v.LastError != "" {
		fmt.Fprintf(w, "Last error:   %s\n", v.LastError)
	}
	if len(v.Nodes) == 0 {
		return nil
	}
	fmt.Fprintln(w, "Nodes:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tTYPE\tCORES\tMEMORY\tKUBELET\tREADY")
	for _, n := range v.Nodes {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d MiB\t%s\t%v\n", n.Name, n.InstanceType, n.Cores, n.MemoryMB, n.KubeletVersion, n.Ready)
	}
	return tw.Flush()
}

func discoveryDetail(w io.Writer, h *client.DiscoveryHealth) {
	fmt.Fprintf(w, "Discovery:    %s, %s, %d objects\n", h.Mode, h.State, h.Objects)
	op := h.Operator
	if op == nil {
		return
	}
	fmt.Fprintf(w, "Operator:     namespace %s, install %s\n", op.Namespace, op.Install)
	if op.Error != "" {
		fmt.Fprintf(w, "  cannot read the cluster: %s\n", op.Error)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  COMPONENT\tSTATE\tVERSION\tLAST SEEN\tDETAIL")
	for _, c := range []struct {
		name string
		c    apitypes.OperatorComponent
	}{{"operator", op.Operator}, {"broker", op.Broker}, {"meshsync", op.MeshSync}} {
		detail := c.c.Message
		if c.c.Connected != nil {
			detail = fmt.Sprintf("connected=%v %s %s", *c.c.Connected, c.c.Endpoint, detail)
		}
		if c.c.Objects != nil {
			detail = fmt.Sprintf("objects=%d %s", *c.c.Objects, detail)
		}
		seen := "-"
		if c.c.LastSeen != nil {
			seen = ago(c.c.LastSeen)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.name, c.c.State, orDash(c.c.Version), seen, strings.TrimSpace(detail))
	}
	_ = tw.Flush()
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
