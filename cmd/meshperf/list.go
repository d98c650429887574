package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// outputFlag is the -o flag of the list and get verbs: a table (or text) for people,
// json for scripts. One definition, so every verb accepts and refuses the same values.
type outputFlag struct{ format string }

func (o *outputFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.format, "output", "o", "", "table (default), or json or yaml for scripts")
}

// check refuses an unknown -o value before the command talks to a server.
func (o *outputFlag) check() error {
	switch o.format {
	case "", "table", "json", "yaml":
		return nil
	}
	return badInput(fmt.Errorf("-o %q: want table, json or yaml", o.format))
}

func (o *outputFlag) json() bool { return o.format == "json" }

// writeYAMLOut writes v as YAML with its JSON names (the same document as -o json).
func writeYAMLOut(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// table describes how a list verb prints its items: the column headings and one row per
// item. Every list verb goes through writeList so headings, spacing, the empty case and
// -o json behave the same way everywhere.
type table[T any] struct {
	columns []string
	row     func(T) []string
	// empty, when set, is said on stderr instead of printing a header with no rows.
	empty string
}

// writeList writes items as the table, or as JSON when -o json. asJSON, when not nil,
// is what -o json prints instead of the bare items (e.g. with a paging cursor).
func writeList[T any](cmd *cobra.Command, o *outputFlag, t table[T], items []T, asJSON any) error {
	if err := o.check(); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if o.json() || o.format == "yaml" {
		write := writeJSONOut
		if o.format == "yaml" {
			write = writeYAMLOut
		}
		if asJSON != nil {
			return write(w, asJSON)
		}
		if items == nil {
			items = []T{} // [] rather than null: scripts iterate it
		}
		return write(w, items)
	}
	if len(items) == 0 && t.empty != "" {
		fmt.Fprintln(cmd.ErrOrStderr(), t.empty)
		return nil
	}
	return writeTable(w, t.columns, len(items), func(i int) []string { return t.row(items[i]) })
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeTable aligns columns with two spaces between them.
func writeTable(w io.Writer, columns []string, n int, row func(int) []string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(columns, "\t"))
	for i := range n {
		fmt.Fprintln(tw, strings.Join(row(i), "\t"))
	}
	return tw.Flush()
}
