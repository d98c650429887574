//go:build generator

package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// fullBuildCommands, in the generator build, only say where the real ones are (see
// commands_full.go).
func fullBuildCommands() []*cobra.Command {
	var cmds []*cobra.Command
	for _, name := range []string{"server", "meshsync", "operator", "broker", "adapter", "cluster", "conformance", "dashboard", "grafana"} {
		cmds = append(cmds, &cobra.Command{
			Use:                name,
			Hidden:             true,
			DisableFlagParsing: true,
			RunE: func(*cobra.Command, []string) error {
				return badInput(fmt.Errorf("%q is not in this build: it is meshperf's generator build (load, agent, target and API clients); use the full meshperf binary or image", name))
			},
		})
	}
	return cmds
}
