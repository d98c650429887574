package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
)

func newScheduleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "schedule", Short: "Run profiles on cron schedules (on a server)"}
	var rf remoteFlags
	var profile, cronSpec, missed, output string
	var listOut outputFlag
	create := &cobra.Command{
		Use:   "create NAME --profile P --cron SPEC",
		Short: "Run a profile on a schedule",
		Long: `Run a profile on a cron schedule: 5 fields in UTC ("0 2 * * *"), 6 with seconds,
@daily, @every 30m, or a CRON_TZ=Europe/Paris prefix. Each firing runs once however many
servers share the database. --missed says what to do, after the servers were down, with
the firings that fell meanwhile: skip them (default) or run_once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			s, err := c.CreateSchedule(cmd.Context(), args[0], profile, cronSpec, missed)
			if err != nil {
				return remoteErr(err)
			}
			next := "-"
			if len(s.Next) > 0 {
				next = s.Next[0].Local().Format(time.RFC3339)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schedule %s created: %s, next at %s\n", s.Name, s.Cron, next)
			return nil
		},
	}
	create.Flags().StringVar(&profile, "profile", "", "the profile to run")
	create.Flags().StringVar(&cronSpec, "cron", "", "when, e.g. \"0 2 * * *\" or @every 1h")
	create.Flags().StringVar(&missed, "missed", "skip", "after downtime: skip or run_once")
	rf.add(create)

	list := &cobra.Command{
		Use: "list", Short: "List schedules", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			ss, err := c.Schedules(cmd.Context())
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &listOut, table[client.Schedule]{
				columns: []string{"NAME", "CRON", "STATE", "MISSED", "NEXT"},
				row: func(s client.Schedule) []string {
					state, next := "active", "-"
					if s.Paused {
						state = "paused"
					}
					if len(s.Next) > 0 {
						next = s.Next[0].Local().Format("2006-01-02 15:04:05")
					}
					return []string{s.Name, s.Cron, state, s.Missed, next}
				},
				empty: "no schedules; create one with: meshperf schedule create NAME --profile P --cron SPEC",
			}, ss, nil)
		},
	}
	listOut.add(list)
	rf.add(list)

	get := &cobra.Command{
		Use: "get NAME", Short: "Show a schedule and its history", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			s, err := c.Schedule(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), s)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schedule %s: %s, missed firings: %s, paused: %v\n", s.Name, s.Cron, s.Missed, s.Paused)
			for _, n := range s.Next {
				fmt.Fprintf(cmd.OutOrStdout(), "  next   %s\n", n.Local().Format(time.RFC3339))
			}
			// The firing's outcome is only whether the run started; what became of the
			// run (and its result, for `result get`) is the run's own record.
			return writeTable(cmd.OutOrStdout(), []string{"FIRED", "OUTCOME", "RUN", "RUN STATE", "RESULT", "SERVER"}, len(s.History), func(i int) []string {
				f := s.History[i]
				state, result := "-", "-"
				if f.RunID != "" {
					if run, err := c.Run(cmd.Context(), f.RunID); err == nil {
						state = run.Status
						if run.ResultID != nil {
							result = *run.ResultID
						}
					} else {
						state = "unknown (" + err.Error() + ")"
					}
				}
				return []string{f.FireTime.Local().Format("2006-01-02 15:04:05"), f.Outcome, orDash(f.RunID), state, result, f.Server}
			})
		},
	}
	get.Flags().StringVarP(&output, "output", "o", "", "json for scripts")
	rf.add(get)

	cmd.AddCommand(create, list, get)
	for _, action := range []string{"pause", "resume", "delete"} {
		c := &cobra.Command{
			Use: action + " NAME", Short: map[string]string{"pause": "Pause a schedule", "resume": "Resume a schedule", "delete": "Delete a schedule (its results stay)"}[action],
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cl, err := rf.client()
				if err != nil {
					return err
				}
				if err := cl.ScheduleAction(cmd.Context(), args[0], action); err != nil {
					return remoteErr(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "schedule %s: %s done\n", args[0], action)
				return nil
			},
		}
		rf.add(c)
		cmd.AddCommand(c)
	}
	return cmd
}
