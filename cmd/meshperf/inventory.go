package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
)

func newInventoryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "What MeshSync discovered in connected clusters: objects, counts, health, flush",
		Long: `Every connected cluster is discovered by MeshSync (in the server by default, or in the
cluster in operator mode); its objects are kept per cluster in the server's inventory.
Objects meshperf made carry app.kubernetes.io/managed-by=meshperf and show as managed.`,
	}
	var rf remoteFlags

	var f client.InventoryFilter
	var managed string
	var all bool
	var listOut outputFlag
	list := &cobra.Command{
		Use:   "list",
		Short: "List discovered objects (filters: cluster, kind, namespace, name, label selector, managed)",
		Example: `  meshperf inventory list --cluster prod-eu --kind Deployment --namespace istio-system
  meshperf inventory list --selector 'app in (web,api),tier!=db' -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := listOut.check(); err != nil {
				return err
			}
			if managed != "" {
				b, err := strconv.ParseBool(managed)
				if err != nil {
					return badInput(fmt.Errorf("--managed %q: want true or false", managed))
				}
				f.Managed = &b
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			var items []client.InventoryObject
			var next string
			for {
				page, err := c.Inventory(cmd.Context(), f)
				if err != nil {
					return remoteErr(err)
				}
				items, next = append(items, page.Items...), page.NextCursor
				if !all || next == "" {
					break
				}
				f.Cursor = next
			}
			if next != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "more: --cursor %s (or --all)\n", next)
			}
			return writeList(cmd, &listOut, inventoryTable, items, nil)
		},
	}
	list.Flags().StringVar(&f.Cluster, "cluster", "", "connection name or id")
	list.Flags().StringVar(&f.Kind, "kind", "", "kind (Pod, Deployment, ...)")
	list.Flags().StringVarP(&f.Namespace, "namespace", "n", "", "namespace")
	list.Flags().StringVar(&f.Name, "name", "", "object name")
	list.Flags().StringVarP(&f.Selector, "selector", "l", "", "label selector (=, !=, in, notin, key, !key)")
	list.Flags().StringVar(&managed, "managed", "", "true: only objects meshperf made; false: only the others")
	list.Flags().IntVar(&f.Limit, "limit", 100, "objects per page (1 to 1000)")
	list.Flags().StringVar(&f.Cursor, "cursor", "", "the next page's cursor from a previous listing")
	list.Flags().BoolVar(&all, "all", false, "follow every page")
	listOut.add(list)
	rf.add(list)

	var getOut outputFlag
	get := &cobra.Command{
		Use: "get CLUSTER UID", Short: "Show one discovered object with its trimmed object", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := getOut.check(); err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			o, err := c.InventoryObject(cmd.Context(), args[0], args[1])
			if err != nil {
				return remoteErr(err)
			}
			if getOut.format == "" || getOut.format == "table" {
				return writeList(cmd, &getOut, inventoryTable, []client.InventoryObject{*o}, nil)
			}
			return writeList(cmd, &getOut, inventoryTable, nil, o)
		},
	}
	getOut.add(get)
	rf.add(get)

	var countsCluster string
	var countsOut outputFlag
	counts := &cobra.Command{
		Use: "counts", Short: "Objects per kind per cluster", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := countsOut.check(); err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			cs, err := c.InventoryCounts(cmd.Context(), countsCluster)
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &countsOut, countTable, cs, nil)
		},
	}
	counts.Flags().StringVar(&countsCluster, "cluster", "", "connection name or id")
	countsOut.add(counts)
	rf.add(counts)

	var flushOut outputFlag
	flush := &cobra.Command{
		Use: "flush CLUSTER", Short: "Forget everything discovered of one cluster (no other is touched); it is rediscovered",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := flushOut.check(); err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			fl, err := c.FlushInventory(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			if flushOut.format != "" && flushOut.format != "table" {
				return writeList(cmd, &flushOut, inventoryTable, nil, fl)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "flushed %d objects of %s; a fresh snapshot was asked for\n", fl.Objects, args[0])
			return nil
		},
	}
	flushOut.add(flush)
	rf.add(flush)

	var healthOut outputFlag
	var synthetic bool
	var checkNS string
	health := &cobra.Command{
		Use: "health CLUSTER", Short: "Discovery health: state, objects, last event, lag, watches, errors (--check: a synthetic round trip)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := healthOut.check(); err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			h, err := c.DiscoveryHealth(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			var chk *client.SyntheticCheck
			if synthetic {
				if chk, err = c.CheckDiscovery(cmd.Context(), args[0], checkNS); err != nil {
					return remoteErr(err)
				}
			}
			if healthOut.json() || healthOut.format == "yaml" {
				return writeList(cmd, &healthOut, inventoryTable, nil, map[string]any{"health": h, "check": chk})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "cluster   %s (%s)\nmode      %s\nstate     %s\nobjects   %d\n", h.Cluster, h.ClusterUID, orDash(h.Mode), h.State, h.Objects)
			if h.LastEventAt != nil {
				fmt.Fprintf(w, "last event %s ago (stored after %.3fs)\n", time.Duration(h.SinceLastEventSeconds*float64(time.Second)).Round(time.Second), h.LagSeconds)
			}
			fmt.Fprintf(w, "watches   %d of %d resources\ngaps      %d\n", h.WatchesOpen, h.Resources, h.Gaps)
			if h.LastError != "" {
				fmt.Fprintf(w, "error     %s\n", h.LastError)
			}
			if e := h.Embedded; e != nil {
				fmt.Fprintf(w, "embedded  %s since %s, %d restarts %s\n", e.State, e.StartedAt.Format(time.RFC3339), e.Restarts, e.LastError)
			}
			if chk != nil {
				if !chk.OK {
					return fmt.Errorf("synthetic check: %s", chk.Error)
				}
				fmt.Fprintf(w, "check     ok: arrived in %.0f ms, removal seen in %.0f ms, round trip %.0f ms\n", chk.ArriveMs, chk.RemoveMs, chk.RoundTripMs)
			}
			return nil
		},
	}
	health.Flags().BoolVar(&synthetic, "check", false, "also write a marker ConfigMap and time its round trip through discovery")
	health.Flags().StringVar(&checkNS, "check-namespace", "default", "namespace of the marker ConfigMap")
	healthOut.add(health)
	rf.add(health)

	resync := &cobra.Command{
		Use: "resync CLUSTER", Short: "Ask a cluster's MeshSync for a full snapshot", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			if err := c.ResyncDiscovery(cmd.Context(), args[0]); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "asked %s for a snapshot\n", args[0])
			return nil
		},
	}
	rf.add(resync)

	var mode string
	var scope client.DiscoverySettings
	scopeCmd := &cobra.Command{
		Use:   "scope CLUSTER",
		Short: "Set a connection's discovery mode and scope (what is watched)",
		Example: `  meshperf inventory scope prod-eu --exclude-namespace kube-system --exclude-kind events
  meshperf inventory scope prod-eu --mode operator`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			scope.Mode = mode
			c, err := rf.client()
			if err != nil {
				return err
			}
			s, err := c.SetDiscoverySettings(cmd.Context(), args[0], scope)
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: mode %s, scope %+v\n", args[0], orDash(s.Mode), s.Scope)
			return nil
		},
	}
	scopeCmd.Flags().StringVar(&mode, "mode", "", "embedded or operator (empty: the server's --meshsync-mode)")
	scopeCmd.Flags().StringSliceVar(&scope.Scope.IncludeKinds, "include-kind", nil, "watch only these kinds (Kind or resource.group; repeatable)")
	scopeCmd.Flags().StringSliceVar(&scope.Scope.ExcludeKinds, "exclude-kind", nil, "never watch these kinds")
	scopeCmd.Flags().StringSliceVar(&scope.Scope.IncludeNamespaces, "include-namespace", nil, "watch only these namespaces")
	scopeCmd.Flags().StringSliceVar(&scope.Scope.ExcludeNamespaces, "exclude-namespace", nil, "never watch these namespaces")
	scopeCmd.Flags().StringSliceVar(&scope.Scope.FullKinds, "full-kind", nil, "keep these kinds whole, beyond the defaults")
	rf.add(scopeCmd)

	cmd.AddCommand(list, get, counts, flush, health, resync, scopeCmd)
	return cmd
}

var inventoryTable = table[client.InventoryObject]{
	columns: []string{"CLUSTER", "KIND", "NAMESPACE", "NAME", "UID", "MANAGED", "LABELS", "LAST SEEN"},
	row: func(o client.InventoryObject) []string {
		var ls []string
		for k, v := range o.Labels {
			ls = append(ls, k+"="+v)
		}
		managed := ""
		if o.Managed {
			managed = "yes"
		}
		return []string{o.ClusterUID, o.Kind, orDash(o.Namespace), o.Name, o.UID, orDash(managed), orDash(clipCell(strings.Join(sortedLabels(ls), ","), 60)),
			o.LastSeen.Format(time.RFC3339)}
	},
	empty: "no objects",
}

var countTable = table[client.InventoryCount]{
	columns: []string{"CLUSTER", "GROUP", "KIND", "COUNT"},
	row: func(c client.InventoryCount) []string {
		return []string{orDash(c.Cluster), orDash(c.Group), c.Kind, strconv.FormatInt(c.Count, 10)}
	},
	empty: "nothing discovered yet",
}

// clipCell shortens s to at most n characters for a table cell.
func clipCell(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func sortedLabels(s []string) []string {
	slices.Sort(s)
	return s
}
