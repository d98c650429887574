package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users on a server (admin)"}
	var rf remoteFlags
	var role string
	create := &cobra.Command{
		Use: "create NAME --role viewer|editor|admin", Short: "Create a user; its token is printed once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			u, token, err := c.CreateUser(cmd.Context(), args[0], role)
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "created %s (%s); the token is shown only now:\n", u.Name, u.Role)
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "viewer", "viewer (reads), editor (also writes and runs) or admin (also users)")
	rf.add(create)
	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			us, err := c.Users(cmd.Context())
			if err != nil {
				return remoteErr(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tID")
			for _, u := range us {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, u.ID)
			}
			return tw.Flush()
		},
	}
	rf.add(list)
	cmd.AddCommand(create, list)
	return cmd
}

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage your own API tokens"}
	var rf remoteFlags
	var name string
	create := &cobra.Command{
		Use: "create [--name NAME]", Short: "Create another token for yourself; printed once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			token, err := c.CreateToken(cmd.Context(), name)
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the token is for (e.g. ci)")
	rf.add(create)
	cmd.AddCommand(create)
	return cmd
}
