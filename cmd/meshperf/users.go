package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
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
	var userOut outputFlag
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
			return writeList(cmd, &userOut, table[client.User]{
				columns: []string{"NAME", "ROLE", "ID"},
				row:     func(u client.User) []string { return []string{u.Name, u.Role, u.ID} },
			}, us, nil)
		},
	}
	userOut.add(list)
	rf.add(list)
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a user and revoke all its tokens", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s and revoked its tokens\n", args[0])
			return nil
		},
	}
	rf.add(del)
	setRole := &cobra.Command{
		Use: "set-role NAME viewer|editor|admin", Short: "Change a user's role (from its next request)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			u, err := c.SetRole(cmd.Context(), args[0], args[1])
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is now %s\n", u.Name, u.Role)
			return nil
		},
	}
	rf.add(setRole)
	cmd.AddCommand(create, list, del, setRole)
	return cmd
}

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens: create your own; list and revoke (admin: anyone's)"}
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
	var user string
	var tokenOut outputFlag
	list := &cobra.Command{
		Use: "list [--user NAME]", Short: "List tokens: ids, names, owners, dates, never secrets (admin)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			ts, err := c.Tokens(cmd.Context(), user)
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &tokenOut, table[client.Token]{
				columns: []string{"ID", "NAME", "USER", "CREATED", "LAST USED"},
				row: func(t client.Token) []string {
					last := "never"
					if t.LastUsedAt != nil {
						last = t.LastUsedAt.Format(time.RFC3339)
					}
					return []string{t.ID, t.Name, t.User, t.CreatedAt.Format(time.RFC3339), last}
				},
			}, ts, nil)
		},
	}
	tokenOut.add(list)
	list.Flags().StringVar(&user, "user", "", "only this user's tokens")
	rf.add(list)
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a token by id (yours; admin: anyone's)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s\n", args[0])
			return nil
		},
	}
	rf.add(revoke)
	cmd.AddCommand(create, list, revoke)
	return cmd
}
