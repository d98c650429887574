package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
)

// meshOpFlags are the flags every mesh operation verb shares.
type meshOpFlags struct {
	rf        remoteFlags
	out       outputFlag
	clusters  []string
	namespace string
	timeout   int
	noWait    bool
}

func (f *meshOpFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.clusters, "cluster", nil, "a cluster connection (name or id); repeat for several, worked on at once")
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "namespace (default: the mesh's own, or meshperf-sample for the sample app)")
	cmd.Flags().IntVar(&f.timeout, "cluster-timeout", 0, "deadline per cluster in seconds (default: the adapter's)")
	cmd.Flags().BoolVar(&f.noWait, "no-wait", false, "return once the operation started, without following its events")
	f.out.add(cmd)
	f.rf.add(cmd)
}

// run starts the operation and, unless --no-wait, follows its events to the end;
// it fails (exit 1) when any cluster failed, after saying which and why.
func (f *meshOpFlags) run(cmd *cobra.Command, req client.OperationRequest) error {
	if err := f.out.check(); err != nil {
		return err
	}
	if len(f.clusters) == 0 {
		return badInput(errors.New("--cluster: at least one cluster"))
	}
	req.Clusters, req.Namespace, req.ClusterTimeoutSeconds = f.clusters, f.namespace, f.timeout
	c, err := f.rf.client()
	if err != nil {
		return err
	}
	op, err := c.StartOperation(cmd.Context(), req)
	if err != nil {
		return remoteErr(err)
	}
	w := cmd.OutOrStdout()
	human := !f.out.json() && !f.out.yaml()
	if human {
		fmt.Fprintf(w, "operation %s: %s %s on %s\n", op.ID, req.Kind, req.Mesh, strings.Join(f.clusters, ", "))
	}
	if !f.noWait {
		var fn func(client.OperationEvent)
		if human {
			fn = func(e client.OperationEvent) { writeOperationEvent(w, e) }
		} else {
			fn = func(client.OperationEvent) {}
		}
		if op, err = c.FollowOperation(cmd.Context(), op.ID, 0, fn); err != nil {
			return err
		}
	}
	return writeOperation(cmd, &f.out, op)
}

func writeOperationEvent(w io.Writer, e client.OperationEvent) {
	where := e.Cluster
	if where == "" {
		where = "-"
	}
	fmt.Fprintf(w, "%4d %s %-5s %-8s %s", e.Sequence, e.Time.Format("15:04:05"), e.Severity, where, e.Summary)
	if e.Details != "" {
		fmt.Fprintf(w, ": %s", e.Details)
	}
	fmt.Fprintln(w)
	if e.Cause != "" {
		fmt.Fprintf(w, "       cause: %s\n", e.Cause)
	}
	if e.Remedy != "" {
		fmt.Fprintf(w, "       remedy: %s\n", e.Remedy)
	}
}

// writeOperation prints an operation's per-cluster outcome; a failed one exits 1.
func writeOperation(cmd *cobra.Command, out *outputFlag, op *client.Operation) error {
	w := cmd.OutOrStdout()
	switch {
	case out.json():
		if err := writeJSONOut(w, op); err != nil {
			return err
		}
	case out.yaml():
		if err := writeYAMLOut(w, op); err != nil {
			return err
		}
	default:
		fmt.Fprintf(w, "operation %s: %s %s %s\n", op.ID, op.Kind, op.Mesh, op.State)
		_ = writeTable(w, []string{"CLUSTER", "STATE", "DETAILS", "CAUSE", "REMEDY"}, len(op.Clusters), func(i int) []string {
			c := op.Clusters[i]
			var d []string
			for _, k := range sortedKeys(c.Details) {
				if k == "report" { // a validate operation's whole report: kept by the server
					d = append(d, "report=kept (meshperf conformance list)")
					continue
				}
				d = append(d, k+"="+c.Details[k])
			}
			cause := c.Cause
			if cause == "" {
				cause = c.Error
			}
			return []string{c.Cluster, c.State, orDash(strings.Join(d, " ")), orDash(cause), orDash(c.Remedy)}
		})
	}
	if op.State == "failed" {
		return &exitError{code: exitFailed, err: fmt.Errorf("operation %s failed: %s", op.ID, op.Error)}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

// newMeshOpCmds are the mesh verbs that go through the mesh's adapter.
func newMeshOpCmds() []*cobra.Command {
	var inst meshOpFlags
	var version string
	install := &cobra.Command{
		Use:   "install MESH --cluster NAME [--cluster NAME...] [--version V]",
		Short: "Install a mesh's control plane on clusters at once, through its adapter (istio, linkerd)",
		Example: `  meshperf mesh install istio --version 1.24.2 --cluster c1 --cluster c2
  meshperf mesh install linkerd --cluster prod-eu`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inst.run(cmd, client.OperationRequest{Mesh: args[0], Kind: "install", Version: version})
		},
	}
	install.Flags().StringVar(&version, "version", "", "mesh version (default: the newest the adapter offers; see meshperf adapter list)")
	inst.add(install)

	var un meshOpFlags
	uninstall := &cobra.Command{
		Use:   "uninstall MESH --cluster NAME [--cluster NAME...]",
		Short: "Remove a mesh meshperf installed: its workloads, CRDs, and its namespace when meshperf created it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return un.run(cmd, client.OperationRequest{Mesh: args[0], Kind: "uninstall"})
		},
	}
	un.add(uninstall)

	sample := &cobra.Command{Use: "sample", Short: "meshperf's sample app (meshperf target) in or out of a mesh"}
	var sd meshOpFlags
	var noInject bool
	var replicas int
	deploy := &cobra.Command{
		Use:     "deploy MESH --cluster NAME [--cluster NAME...]",
		Short:   "Deploy the sample app (Deployment and Service meshperf-target) in the mesh, or out of it with --no-inject",
		Example: `  meshperf mesh sample deploy istio --cluster c1 --cluster c2 -n demo`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			params := map[string]string{"inject": fmt.Sprint(!noInject)}
			if replicas != 0 {
				params["replicas"] = fmt.Sprint(replicas)
			}
			return sd.run(cmd, client.OperationRequest{Mesh: args[0], Kind: "sample-deploy", Parameters: params})
		},
	}
	deploy.Flags().BoolVar(&noInject, "no-inject", false, "keep the app out of the mesh")
	deploy.Flags().IntVar(&replicas, "replicas", 0, "replicas (1 to 5; default 1)")
	sd.add(deploy)
	var sr meshOpFlags
	remove := &cobra.Command{
		Use:   "remove MESH --cluster NAME [--cluster NAME...]",
		Short: "Remove the sample app (and its namespace when meshperf created it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sr.run(cmd, client.OperationRequest{Mesh: args[0], Kind: "sample-remove"})
		},
	}
	sr.add(remove)
	sample.AddCommand(deploy, remove)

	var inj meshOpFlags
	var disable bool
	injection := &cobra.Command{
		Use:   "inject MESH -n NAMESPACE --cluster NAME [--cluster NAME...]",
		Short: "Turn sidecar injection on (or off with --disable) for a namespace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if inj.namespace == "" {
				return badInput(errors.New("-n/--namespace: which namespace"))
			}
			return inj.run(cmd, client.OperationRequest{Mesh: args[0], Kind: "configure-injection", Parameters: map[string]string{"enabled": fmt.Sprint(!disable)}})
		},
	}
	injection.Flags().BoolVar(&disable, "disable", false, "turn injection off")
	inj.add(injection)

	var val meshOpFlags
	var profiles string
	validate := &cobra.Command{
		Use:     "validate MESH --cluster NAME [--cluster NAME...] [--profile SMI,MESH-HTTP,MESH-GRPC]",
		Short:   "Run the conformance suite on clusters through the mesh's adapter; each cluster's signed report is kept (meshperf conformance list)",
		Example: `  meshperf mesh validate istio --cluster c1 --cluster c2 --profile MESH-HTTP,MESH-GRPC`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return val.run(cmd, client.OperationRequest{Mesh: args[0], Kind: "validate", Parameters: map[string]string{"profiles": profiles}})
		},
	}
	validate.Flags().StringVar(&profiles, "profile", "MESH-HTTP", "comma-separated conformance profiles: SMI, MESH-HTTP, MESH-GRPC")
	val.add(validate)
	return []*cobra.Command{install, uninstall, sample, injection, validate}
}
