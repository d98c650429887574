//go:build !generator

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

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
