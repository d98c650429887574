package main

import "github.com/spf13/cobra"

// commands are the subcommands of every build: load generation, the sample target, the
// agent, CI gates, and the clients of a server's API.
func commands() []*cobra.Command {
	return append([]*cobra.Command{newRunCmd(), newTargetCmd(), newAgentCmd(), newGateCmd(), newCompareCmd(),
		newLoginCmd(), newContextCmd(), newProfileCmd(), newResultCmd(), newScheduleCmd(), newOperationCmd(),
		newInventoryCmd(), newMeshCmd(), newConnectionCmd(), newUserCmd(), newTokenCmd(), newVersionCmd()},
		fullBuildCommands()...)
}
