package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/client"
)

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
