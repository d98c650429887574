package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
)

// newConnectionCmd is `meshperf connection`: Prometheus and Grafana connections beside
// the Kubernetes ones (`meshperf cluster`); list, get, check and remove see every kind.
func newConnectionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connection",
		Short: "Connect a server to Prometheus and Grafana; list every connection",
		Long: `Prometheus connections are queried over each run's window; Grafana connections receive
comparison boards. Both have the states of cluster connections (discovered, connected,
disconnected after a failed health check, ignored, maintenance, deleted). Health
checks: Prometheus /api/v1/status/buildinfo (or /-/ready), Grafana /api/health.
A bearer token or basic auth is sealed at rest on the server and never shown again.
Kubernetes clusters are added with 'meshperf cluster add'.`,
	}
	var rf remoteFlags
	var output string
	var listOut outputFlag

	var name, tokenFile, username, passwordFile string
	var discoverOnly bool
	add := &cobra.Command{
		Use:   "add prometheus|grafana URL [--name NAME] [--bearer-token-file F | --username U --password-file F]",
		Short: "Add a Prometheus or Grafana connection (health-checked first)",
		Example: `  meshperf connection add prometheus http://prometheus.monitoring:9090 --name prom
  meshperf connection add grafana https://grafana.example.com --name graf --bearer-token-file grafana.token`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e := client.EndpointConnection{Kind: args[0], URL: args[1], Name: name, Username: username, DiscoverOnly: discoverOnly}
			if e.Kind != "prometheus" && e.Kind != "grafana" {
				return badInput(fmt.Errorf("the kind is prometheus or grafana, not %q (clusters: meshperf cluster add)", e.Kind))
			}
			if e.Name == "" {
				e.Name = e.Kind
			}
			read := func(flag, file string) (string, error) {
				if file == "" {
					return "", nil
				}
				b, err := os.ReadFile(file)
				if err != nil {
					return "", badInput(fmt.Errorf("%s: %w", flag, err))
				}
				return strings.TrimSpace(string(b)), nil
			}
			var err error
			if e.BearerToken, err = read("--bearer-token-file", tokenFile); err != nil {
				return err
			}
			if e.Password, err = read("--password-file", passwordFile); err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			res, err := c.AddConnection(cmd.Context(), e)
			if err != nil {
				return remoteErr(err)
			}
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), res)
			}
			switch {
			case res.Error != "":
				return errors.New(res.Error)
			case res.DuplicateOf != "":
				fmt.Fprintf(cmd.OutOrStdout(), "%s: the same %s is already connected as %s\n", e.Name, e.Kind, res.DuplicateOf)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %s %s (version %s)\n", e.Kind, res.Connection.Name, res.Outcome, res.Connection.State, orDash(res.Connection.Version))
			}
			return nil
		},
	}
	add.Flags().StringVar(&name, "name", "", "connection name (default: the kind)")
	add.Flags().StringVar(&tokenFile, "bearer-token-file", "", "file holding a bearer token")
	add.Flags().StringVar(&username, "username", "", "basic auth user")
	add.Flags().StringVar(&passwordFile, "password-file", "", "file holding the basic auth password")
	add.Flags().BoolVar(&discoverOnly, "discover-only", false, "add as discovered, without a health check")
	add.Flags().StringVarP(&output, "output", "o", "", "json for scripts")
	rf.add(add)

	var kind string
	list := &cobra.Command{
		Use: "list [--kind prometheus|grafana|kubernetes]", Short: "List connections of every kind: state, version, last check", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			cs, err := c.Connections(cmd.Context(), kind)
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &listOut, connectionTable, cs, nil)
		},
	}
	list.Flags().StringVar(&kind, "kind", "", "only this kind")
	listOut.add(list)
	rf.add(list)

	get := &cobra.Command{
		Use: "get NAME", Short: "Show a connection", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			v, err := c.ConnectionByName(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			return clusterDetail(cmd.OutOrStdout(), v, output)
		},
	}
	get.Flags().StringVarP(&output, "output", "o", "", "json for scripts")
	rf.add(get)

	check := &cobra.Command{
		Use: "check NAME", Short: "Check a connection's health now", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			v, err := c.CheckConnection(cmd.Context(), args[0])
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
	check.Flags().StringVarP(&output, "output", "o", "", "json for scripts")
	rf.add(check)

	remove := &cobra.Command{
		Use: "remove NAME", Short: "Remove a connection and its sealed credential", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			if _, err := c.RemoveConnection(cmd.Context(), args[0]); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", args[0])
			return nil
		},
	}
	rf.add(remove)

	cmd.AddCommand(add, list, get, check, remove)
	return cmd
}

var connectionTable = table[client.Connection]{
	columns: []string{"NAME", "KIND", "STATE", "VERSION", "LAST CHECK", "SERVER", "LAST ERROR"},
	row: func(v client.Connection) []string {
		return []string{v.Name, v.Kind, v.State, orDash(v.Version), ago(v.LastCheck), v.Server, shorten(v.LastError, 60)}
	},
	empty: "no connections; add one with: meshperf connection add prometheus URL",
}
