// Command meshperf is the performance and conformance lab for service meshes. This
// package only parses flags, owns signals and exit codes, and calls the packages.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/smp"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit codes, documented in the README.
const (
	exitOK         = 0
	exitFailed     = 1 // could not run (or write the result)
	exitBadInput   = 2 // bad flags, config file or arguments
	exitThresholds = 3 // the test ran and a threshold failed
	// exitRegression = 4 (gate.go): the gate found a regression
	exitInterrupted = 130 // stopped by a signal; the partial result was still written
)

// exitError carries an exit code up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func badInput(err error) error { return &exitError{code: exitBadInput, err: err} }

func main() {
	root := newRootCmd()
	err := root.Execute()
	if err == nil {
		return
	}
	code := exitFailed
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case smp.IsInputError(err):
		code = exitBadInput
	}
	if code != exitInterrupted || ee.err != nil && ee.err.Error() != "" {
		fmt.Fprintln(os.Stderr, "meshperf:", err)
	}
	os.Exit(code)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "meshperf",
		Short: "Performance and conformance lab for service meshes",
		Long: `meshperf measures service meshes and cloud native infrastructure: HTTP, gRPC and TCP
load with closed and open (constant arrival rate) models, exact HDR histograms per second,
and results in the Service Mesh Performance (SMP) format.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput(err) })
	defer refuseUnknownSubcommands(root)
	root.AddCommand(commands()...)
	return root
}

// refuseUnknownSubcommands makes `meshperf bogus` and `meshperf result bogus` bad input
// (exit 2) like any other: left to cobra, the first exits 1 and the second prints the
// group's help and exits 0, which a script would take for success.
func refuseUnknownSubcommands(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.ArbitraryArgs
		c.DisableFlagsInUseLine = true // it is a group: "meshperf result [command]"
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf("; did you mean %q?", s[0])
			}
			return badInput(fmt.Errorf("%s (see %s --help)", msg, cmd.CommandPath()))
		}
	}
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print meshperf's version and its engines' versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "meshperf %s\n", version)
			for _, line := range engineVersions() {
				fmt.Fprintln(cmd.OutOrStdout(), line)
			}
			return nil
		},
	}
}
