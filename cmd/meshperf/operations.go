package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
)

func newOperationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operation",
		Short: "Mesh operations (installs, uninstalls, sample apps) and their per-cluster outcome",
	}
	var lrf remoteFlags
	var lout outputFlag
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List the latest mesh operations, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lout.check(); err != nil {
				return err
			}
			if limit < 1 || limit > 500 {
				return badInput(errors.New("--limit: want 1 to 500"))
			}
			c, err := lrf.client()
			if err != nil {
				return err
			}
			ops, err := c.Operations(cmd.Context(), limit)
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &lout, operationTable, ops, nil)
		},
	}
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")
	lout.add(list)
	lrf.add(list)

	var grf remoteFlags
	var gout outputFlag
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show an operation's per-cluster outcome (exit 1 when it failed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := gout.check(); err != nil {
				return err
			}
			c, err := grf.client()
			if err != nil {
				return err
			}
			op, err := c.Operation(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			return writeOperation(cmd, &gout, op)
		},
	}
	gout.add(get)
	grf.add(get)

	var erf remoteFlags
	var after int64
	var follow bool
	events := &cobra.Command{
		Use:   "events ID [--after SEQ] [--follow]",
		Short: "Print an operation's events in order (with --follow, live until it ends)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if after < 0 {
				return badInput(errors.New("--after: a sequence, 0 or more"))
			}
			c, err := erf.client()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if follow {
				_, err := c.FollowOperation(cmd.Context(), args[0], after, func(e client.OperationEvent) { writeOperationEvent(w, e) })
				return remoteErr(err)
			}
			for {
				evs, err := c.OperationEvents(cmd.Context(), args[0], after)
				if err != nil {
					return remoteErr(err)
				}
				for _, e := range evs {
					writeOperationEvent(w, e)
					after = e.Sequence
				}
				if len(evs) < 1000 {
					return nil
				}
			}
		},
	}
	events.Flags().Int64Var(&after, "after", 0, "only events after this sequence")
	events.Flags().BoolVarP(&follow, "follow", "f", false, "follow live until the operation ends")
	erf.add(events)
	cmd.AddCommand(list, get, events)
	return cmd
}

var operationTable = table[client.Operation]{
	columns: []string{"ID", "MESH", "KIND", "VERSION", "STATE", "CLUSTERS", "CREATED"},
	row: func(o client.Operation) []string {
		var cs []string
		for _, c := range o.Clusters {
			cs = append(cs, c.Cluster+":"+c.State)
		}
		return []string{o.ID, o.Mesh, o.Kind, orDash(o.Version), o.State, strings.Join(cs, " "), o.CreatedAt.Format("2006-01-02 15:04:05")}
	},
	empty: "no mesh operations yet",
}
