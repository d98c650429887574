package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
)

func newMeshCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mesh",
		Short: "Service meshes in connected clusters: found, installed, configured",
		Long: `A mesh is named when its own control-plane image and at least one more signal agree:
its CRDs, its injector webhook, a second component, its well-known labels, injected
proxies. Any namespace; the version comes from the image tag, or from the installer's
labels when the image is pinned by digest.`,
	}
	var rf remoteFlags
	var out outputFlag
	var cluster string
	list := &cobra.Command{
		Use:   "list [--cluster NAME]",
		Short: "List the meshes of every connected cluster (or of one): type, mode, version, proxies",
		Example: `  meshperf mesh list
  meshperf mesh list --cluster prod-eu -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			var found []client.ClusterMeshes
			if cluster != "" {
				one, err := c.ClusterMeshes(cmd.Context(), cluster)
				if err != nil {
					return remoteErr(err)
				}
				found = []client.ClusterMeshes{*one}
			} else if found, err = c.Meshes(cmd.Context()); err != nil {
				return remoteErr(err)
			}
			if found == nil {
				found = []client.ClusterMeshes{}
			}
			return writeList(cmd, &out, meshTable, meshRows(found), found)
		},
	}
	list.Flags().StringVar(&cluster, "cluster", "", "only this cluster connection (name or id)")
	out.add(list)
	rf.add(list)
	cmd.AddCommand(list)
	cmd.AddCommand(newMeshOpCmds()...)
	return cmd
}

// meshRow is one line of the table: a mesh, or a cluster with none (or unreadable).
type meshRow struct {
	cluster, typ, mode, version, namespace, proxies, note string
}

func meshRows(found []client.ClusterMeshes) []meshRow {
	var rows []meshRow
	for _, cm := range found {
		if cm.Error != "" || len(cm.Meshes) == 0 {
			note := "no mesh found"
			if cm.Error != "" {
				note = "cannot read: " + cm.Error
			}
			rows = append(rows, meshRow{cluster: cm.Cluster, note: note})
		}
		for _, m := range cm.Meshes {
			rows = append(rows, meshRow{cluster: cm.Cluster, typ: m.Type, mode: m.Mode, version: m.Version, namespace: m.Namespace,
				proxies: proxyCounts(m.Proxies.Count, m.Proxies.Versions)})
		}
	}
	return rows
}

// proxyCounts reads "4 (1.24.2: 3, 1.23.1: 1)".
func proxyCounts(n int, versions map[string]int) string {
	if n == 0 {
		return "0"
	}
	keys := make([]string, 0, len(versions))
	for v := range versions {
		keys = append(keys, v)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, v := range keys {
		parts[i] = fmt.Sprintf("%s: %d", v, versions[v])
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, ", "))
}

var meshTable = table[meshRow]{
	columns: []string{"CLUSTER", "MESH", "MODE", "VERSION", "NAMESPACE", "PROXIES", "NOTE"},
	row: func(r meshRow) []string {
		return []string{r.cluster, orDash(r.typ), orDash(r.mode), orDash(r.version), orDash(r.namespace), orDash(r.proxies), orDash(r.note)}
	},
	empty: "no usable cluster connections",
}
