//go:build !generator

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/meshsync"
)

// newMeshSyncCredentialCmd is `meshperf cluster meshsync-credential`.
func newMeshSyncCredentialCmd() *cobra.Command {
	var rf remoteFlags
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "meshsync-credential NAME",
		Short: "Issue the broker credential of the MeshSync running in a cluster (operator mode; admin; printed once)",
		Long: `Issue the credential an in-cluster MeshSync (meshperf meshsync, operator mode) connects to
the server's embedded broker with. It proves the cluster's ID (the UID of its
kube-system namespace) and allows only publishing that cluster's discovery events and
hearing its resync requests: it is no agent credential, and it cannot speak for another
cluster. Printed once and stored nowhere; replacing the server's agent-credentials.key
revokes it. Put the connection in operator mode too, so the server does not also
discover the cluster itself.`,
		Example: `  meshperf inventory scope prod-eu --mode operator
  meshperf cluster meshsync-credential prod-eu > token
  kubectl -n meshperf create secret generic meshsync --from-file=token
  meshperf meshsync --nats-url nats://broker.example:4223 --token-file /var/run/meshsync/token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			got, err := c.CreateMeshSyncCredential(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			switch {
			case out.json():
				return writeJSONOut(cmd.OutOrStdout(), got)
			case out.yaml():
				return writeYAMLOut(cmd.OutOrStdout(), got)
			}
			fmt.Fprintln(cmd.OutOrStdout(), got.Credential)
			if got.Mode != meshsync.ModeOperator {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %s is not set to operator mode, so the server may discover it too (meshperf inventory scope %s --mode operator)\n", got.Cluster, got.Cluster)
			}
			return nil
		},
	}
	out.add(cmd)
	rf.add(cmd)
	return cmd
}
