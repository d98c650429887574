package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
	"github.com/meshperf/meshperf/smp"
)

func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "profile", Short: "Manage stored test profiles on a server"}
	var rf remoteFlags
	var file, name, desc, output string
	var listOut outputFlag
	apply := &cobra.Command{
		Use: "apply -f FILE [--name NAME]", Short: "Create a profile, or save a new version of it", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return badInput(errors.New("give -f FILE (a test config, YAML or JSON)"))
			}
			cfg, err := decodeConfigFile(file)
			if err != nil {
				return badInput(err)
			}
			if name == "" {
				name = cfg.Name
			}
			if name == "" {
				return badInput(errors.New("the profile needs a name: --name, or name: in the file"))
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			p, what, err := c.ApplyProfile(cmd.Context(), name, desc, cfg)
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "profile %s %s (version %d)\n", p.Name, what, p.Version)
			return nil
		},
	}
	apply.Flags().StringVarP(&file, "file", "f", "", "test config file")
	apply.Flags().StringVar(&name, "name", "", "profile name (default: the config's name)")
	apply.Flags().StringVar(&desc, "description", "", "profile description")
	rf.add(apply)

	list := &cobra.Command{
		Use: "list", Short: "List profiles", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			ps, err := c.Profiles(cmd.Context())
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &listOut, table[client.Profile]{
				columns: []string{"NAME", "VERSION", "UPDATED", "BY", "DESCRIPTION"},
				row: func(p client.Profile) []string {
					return []string{p.Name, fmt.Sprint(p.Version), p.UpdatedAt.Local().Format("2006-01-02 15:04"), p.CreatedBy, p.Description}
				},
				empty: "no profiles; create one with: meshperf profile apply -f FILE",
			}, ps, nil)
		},
	}
	listOut.add(list)
	rf.add(list)

	get := &cobra.Command{
		Use: "get NAME", Short: "Show a profile's current config", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			p, err := c.Profile(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), p)
			}
			var cfg smp.TestConfig
			if err := smp.DecodeStrict(p.Config, &cfg); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# profile %s, version %d\n", p.Name, p.Version)
			return smp.WriteConfig(cmd.OutOrStdout(), &cfg)
		},
	}
	get.Flags().StringVarP(&output, "output", "o", "yaml", "yaml (the config) or json (the profile)")
	rf.add(get)

	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a profile (its results are kept)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			kept, err := c.DeleteProfile(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "profile %s deleted; %d result(s) kept\n", args[0], kept)
			return nil
		},
	}
	rf.add(del)
	cmd.AddCommand(apply, list, get, del)
	return cmd
}
