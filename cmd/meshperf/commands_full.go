//go:build !generator

package main

import "github.com/spf13/cobra"

// clusterSideCommands are the server and everything that talks to Kubernetes. The
// generator build (-tags generator, `make build-generator`) leaves them out, and with
// them the server, client-go, gorm and the NATS server: an agent in a pod with a
// one-CPU limit then maps a third of the pages (issue 11's RSS goal).
func clusterSideCommands() []*cobra.Command {
	return []*cobra.Command{newServerCmd(), newMeshSyncCmd(), newOperatorCmd(), newBrokerCmd(), newAdapterCmd(),
		newClusterCmd(), newConformanceCmd()}
}
