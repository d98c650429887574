//go:build !generator

package main

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshperf/meshperf/client"
	"github.com/meshperf/meshperf/conformance"
)

// signKeyEnv holds a CI job's signing key (PEM or the base64 of a 32-byte seed).
const signKeyEnv = "MESHPERF_CONFORMANCE_KEY"

func newConformanceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Run mesh conformance suites (SMI, GAMMA MESH-HTTP/MESH-GRPC); sign and verify reports",
	}
	cmd.AddCommand(newConformanceRunCmd(), newConformanceVerifyCmd(), newConformanceKeygenCmd())
	cmd.AddCommand(newConformanceServerCmds()...)
	return cmd
}

func newConformanceRunCmd() *cobra.Command {
	var (
		kubeconfig, cluster, profiles, meshName, meshVersion, image string
		signKey, out, markdown, junit, format                       string
		features, skip, nsLabels, nsAnnotations                     []string
		allFeatures, noWait                                         bool
		stepTimeout                                                 time.Duration
		rf                                                          remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "run --cluster NAME --profile SMI,MESH-HTTP [--kubeconfig FILE]",
		Short: "Run conformance profiles against a cluster with a mesh installed, and write the report",
		Long: `Without --kubeconfig, the meshperf server runs the profiles on its connected cluster
--cluster (the mesh and its version from the cluster's fingerprints), signs the report
with its key and keeps it; this waits for the run (unless --no-wait) and writes the
report. With --kubeconfig, this process runs them on that kubeconfig's context --cluster.

Deploys meshperf's sample app (app-a, app-b, app-c) into namespaces of its own, labelled
for the mesh's injection, runs the profiles' tests through the API server's service
proxy, deletes the namespaces (also on Ctrl-C) and writes the report: YAML shaped like
Gateway API's conformance report (or JSON), optionally Markdown and JUnit too.
With --sign-key or $` + signKeyEnv + ` the report is signed (ed25519).
SMI v0.6.0 is archived (CNCF, 2023-10-03); reports say so.
Exit status 3 when a profile's core tests did not all pass.`,
		Example: `  meshperf conformance run --kubeconfig ~/.kube/config --cluster c1 --profile SMI,MESH-HTTP \
    --mesh linkerd --mesh-version 2.14.1 --sign-key ci.key --out report.yaml --markdown report.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names, err := conformance.ParseProfiles(profiles)
			if err != nil {
				return badInput(fmt.Errorf("--profile: %w", err))
			}
			if format != conformance.FormatYAML && format != conformance.FormatJSON {
				return badInput(fmt.Errorf("--format: %q is not yaml or json", format))
			}
			if kubeconfig == "" {
				if cluster == "" {
					return badInput(errors.New("--cluster: required (a connected cluster of the server, or a context of --kubeconfig)"))
				}
				return runOnServer(cmd, &rf, client.ConformanceRunRequest{Cluster: cluster, Profiles: names, Mesh: meshName, MeshVersion: meshVersion,
					ExtendedFeatures: features, AllFeatures: allFeatures, SkipTests: skip, StepTimeout: stepTimeoutText(cmd, stepTimeout)},
					noWait, out, format, markdown, junit)
			}
			raw, err := os.ReadFile(kubeconfig)
			if err != nil {
				return badInput(fmt.Errorf("--kubeconfig: %w", err))
			}
			cc, err := clientcmd.NewClientConfigFromBytes(raw)
			if err != nil {
				return badInput(fmt.Errorf("--kubeconfig: %w", err))
			}
			rawCfg, _ := cc.RawConfig()
			if cluster != "" {
				if _, ok := rawCfg.Contexts[cluster]; !ok {
					return badInput(fmt.Errorf("--cluster: no context %q in %s", cluster, kubeconfig))
				}
			}
			restCfg, err := clientcmd.NewDefaultClientConfig(rawCfg, &clientcmd.ConfigOverrides{CurrentContext: cluster}).ClientConfig()
			if err != nil {
				return badInput(fmt.Errorf("--kubeconfig: %w", err))
			}
			key, err := loadSignKey(signKey)
			if err != nil {
				return badInput(err)
			}
			labels, err := keyValues("--namespace-label", nsLabels)
			if err != nil {
				return badInput(err)
			}
			annotations, err := keyValues("--namespace-annotation", nsAnnotations)
			if err != nil {
				return badInput(err)
			}
			var feats []conformance.Feature
			for _, f := range features {
				feats = append(feats, conformance.Feature(f))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			errw := cmd.ErrOrStderr()
			rep, err := conformance.Run(ctx, conformance.Options{Config: restCfg, Profiles: names,
				Mesh:             conformance.Mesh{Name: meshName, Version: meshVersion, Cluster: cluster},
				ExtendedFeatures: feats, AllFeatures: allFeatures, SkipTests: skip,
				NamespaceLabels: labels, NamespaceAnnotations: annotations, Image: image, StepTimeout: stepTimeout,
				Log: func(f string, a ...any) { fmt.Fprintf(errw, f+"\n", a...) }})
			if rep == nil {
				return err
			}
			if key != nil {
				if err := rep.Sign(key); err != nil {
					return err
				}
			}
			if err := writeReport(cmd, rep, out, format); err != nil {
				return err
			}
			for _, pf := range [][2]string{{markdown, conformance.FormatMarkdown}, {junit, conformance.FormatJUnit}} {
				if pf[0] != "" {
					if err := writeReport(cmd, rep, pf[0], pf[1]); err != nil {
						return err
					}
				}
			}
			for _, p := range rep.Profiles {
				ext := ""
				if p.Extended != nil {
					ext = ", extended " + p.Extended.Result
				}
				fmt.Fprintf(errw, "%s: core %s%s\n", p.Name, p.Core.Result, ext)
			}
			if err != nil {
				return &exitError{code: exitInterrupted, err: err}
			}
			if !rep.Conformant() {
				return &exitError{code: exitThresholds, err: errors.New("not conformant: core tests failed or were skipped")}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kubeconfig, "kubeconfig", "", "run here, on this kubeconfig's cluster (default: the server runs it)")
	fl.StringVar(&cluster, "cluster", "", "the server's connected cluster (name or id), or with --kubeconfig its context (default: the current one)")
	fl.BoolVar(&noWait, "no-wait", false, "server: start the run and print it, without waiting for the report")
	rf.add(cmd)
	fl.StringVar(&profiles, "profile", conformance.ProfileMeshHTTP, "profiles to run, comma-separated: SMI, MESH-HTTP, MESH-GRPC")
	fl.StringVar(&meshName, "mesh", "", "the mesh under test, for its injection labels and the report (istio, linkerd, kuma, open_service_mesh, nginx_service_mesh, traefik_mesh)")
	fl.StringVar(&meshVersion, "mesh-version", "", "the mesh's version, for the report")
	fl.StringSliceVar(&features, "features", nil, "extended features the mesh supports (tests of others are skipped)")
	fl.BoolVar(&allFeatures, "all-features", false, "try every extended feature")
	fl.StringSliceVar(&skip, "skip-tests", nil, "tests to skip, by short name")
	fl.StringSliceVar(&nsLabels, "namespace-label", nil, "extra label of the test namespaces, KEY=VALUE (repeatable)")
	fl.StringSliceVar(&nsAnnotations, "namespace-annotation", nil, "extra annotation of the test namespaces, KEY=VALUE (repeatable)")
	fl.StringVar(&image, "image", conformance.DefaultImage, "image of the sample app")
	fl.DurationVar(&stepTimeout, "step-timeout", 30*time.Second, "bound of each step (eventually-consistent checks, setup waits)")
	fl.StringVar(&signKey, "sign-key", "", "ed25519 key to sign the report with (PEM file; default $"+signKeyEnv+")")
	fl.StringVarP(&out, "out", "o", "", "write the report here (default stdout)")
	fl.StringVar(&format, "format", conformance.FormatYAML, "report format: yaml or json")
	fl.StringVar(&markdown, "markdown", "", "also write a Markdown report here")
	fl.StringVar(&junit, "junit", "", "also write a JUnit report here")
	return cmd
}

func keyValues(flag string, list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s: %q is not KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

func loadSignKey(path string) (ed25519.PrivateKey, error) {
	var data []byte
	switch {
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--sign-key: %w", err)
		}
		data = b
	case os.Getenv(signKeyEnv) != "":
		data = []byte(os.Getenv(signKeyEnv))
	default:
		return nil, nil
	}
	key, err := conformance.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("--sign-key: %w", err)
	}
	return key, nil
}

func writeReport(cmd *cobra.Command, rep *conformance.Report, path, format string) error {
	var buf bytes.Buffer
	if err := rep.Write(&buf, format); err != nil {
		return err
	}
	if path == "" || path == "-" {
		_, err := cmd.OutOrStdout().Write(buf.Bytes())
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func newConformanceVerifyCmd() *cobra.Command {
	var pubKeys []string
	cmd := &cobra.Command{
		Use:   "verify REPORT",
		Short: "Check that a conformance report (YAML or JSON) is signed and was not altered",
		Long: `Checks the report's ed25519 signature over its content. With --public-key, the signer
must also be one of the given keys (the server's: GET /api/conformance/key, or a CI job's).
Exit status 1 when the report is unsigned, altered or signed by another key.`,
		Example: `  meshperf conformance verify report.yaml --public-key ci.pub`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var trusted []ed25519.PublicKey
			for _, p := range pubKeys {
				b, err := os.ReadFile(p)
				if err != nil {
					return badInput(fmt.Errorf("--public-key: %w", err))
				}
				k, err := conformance.ParsePublicKey(b)
				if err != nil {
					return badInput(fmt.Errorf("--public-key %s: %w", p, err))
				}
				trusted = append(trusted, k)
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return badInput(err)
			}
			rep, err := conformance.Verify(data, trusted...)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: intact, signed by %s key %s\n", args[0], rep.Signature.Algorithm, rep.Signature.KeyID)
			fmt.Fprintf(w, "mesh %s %s, %s", orNone(rep.Mesh.Name), orNone(rep.Mesh.Version), rep.Date)
			for _, p := range rep.Profiles {
				fmt.Fprintf(w, "; %s core %s", p.Name, p.Core.Result)
			}
			fmt.Fprintln(w)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&pubKeys, "public-key", nil, "trusted signer's public key (PEM or base64; repeatable)")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newConformanceKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Make an ed25519 key for signing reports (e.g. a CI job's); prints its public key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return badInput(errors.New("--out: required"))
			}
			key, err := conformance.GenerateKey()
			if err != nil {
				return err
			}
			pemKey, err := conformance.MarshalPrivateKey(key)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, pemKey, 0o600); err != nil {
				return err
			}
			pub, err := conformance.MarshalPublicKey(key.Public().(ed25519.PublicKey))
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(pub)
			return err
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "where to write the private key (mode 0600)")
	return cmd
}

func stepTimeoutText(cmd *cobra.Command, d time.Duration) string {
	if !cmd.Flags().Changed("step-timeout") {
		return ""
	}
	return d.String()
}

// runOnServer starts a run on the server, waits for it and writes its report.
func runOnServer(cmd *cobra.Command, rf *remoteFlags, req client.ConformanceRunRequest, noWait bool, out, format, markdown, junit string) error {
	c, err := rf.client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	run, err := c.StartConformance(ctx, req)
	if err != nil {
		return remoteErr(err)
	}
	errw := cmd.ErrOrStderr()
	fmt.Fprintf(errw, "conformance run %s on %s: mesh %s %s, profiles %s\n", run.ID, orDash(run.Cluster), orDash(run.Mesh), orDash(run.MeshVersion), run.Profiles)
	if noWait {
		return writeJSONOut(cmd.OutOrStdout(), run)
	}
	sig, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for run.Status == "running" {
		select {
		case <-sig.Done():
			return &exitError{code: exitInterrupted, err: fmt.Errorf("stopped waiting; run %s goes on in the server (meshperf conformance get %s)", run.ID, run.ID)}
		case <-tick.C:
		}
		if run, err = c.ConformanceRun(ctx, run.ID); err != nil {
			return remoteErr(err)
		}
	}
	if run.Status == "failed" && run.KeyID == "" {
		return fmt.Errorf("conformance run %s failed: %s", run.ID, run.Error)
	}
	for i, pf := range [][2]string{{out, format}, {markdown, conformance.FormatMarkdown}, {junit, conformance.FormatJUnit}} {
		path, f := pf[0], pf[1]
		if path == "" && i > 0 {
			continue
		}
		b, err := c.ConformanceReport(ctx, run.ID, f)
		if err != nil {
			return remoteErr(err)
		}
		if path == "" || path == "-" {
			_, err = cmd.OutOrStdout().Write(b)
		} else {
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			return err
		}
	}
	if !run.Conformant {
		return &exitError{code: exitThresholds, err: fmt.Errorf("not conformant: core tests failed or were skipped (run %s)", run.ID)}
	}
	fmt.Fprintf(errw, "conformant (run %s, signed by key %s)\n", run.ID, run.KeyID)
	return nil
}

var conformanceTable = table[client.ConformanceRun]{
	columns: []string{"ID", "CLUSTER", "MESH", "VERSION", "PROFILES", "STATUS", "CONFORMANT", "KEY", "CREATED"},
	row: func(r client.ConformanceRun) []string {
		return []string{r.ID, orDash(r.Cluster), orDash(r.Mesh), orDash(r.MeshVersion), r.Profiles, r.Status,
			fmt.Sprint(r.Conformant), orDash(r.KeyID), r.CreatedAt.Format(time.RFC3339)}
	},
	empty: "no conformance runs",
}

var matrixTable = table[client.ConformanceCell]{
	columns: []string{"MESH", "VERSION", "PROFILE", "CORE", "EXTENDED", "PASSED", "FAILED", "SKIPPED", "DATE", "RUN"},
	row: func(c client.ConformanceCell) []string {
		return []string{orDash(c.Mesh), orDash(c.Version), c.Profile, c.Core, orDash(c.Extended), fmt.Sprint(c.Passed),
			fmt.Sprint(c.Failed), fmt.Sprint(c.Skipped), c.Date, c.RunID}
	},
	empty: "no conformance reports",
}

// newConformanceServerCmds are the verbs that read the server's reports.
func newConformanceServerCmds() []*cobra.Command {
	var (
		rfList, rfGet, rfMatrix, rfUpload, rfKey remoteFlags
		outList, outGet, outMatrix               outputFlag
		reportFormat, reportOut                  string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the server's conformance runs and uploaded reports, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := outList.check(); err != nil {
				return err
			}
			c, err := rfList.client()
			if err != nil {
				return err
			}
			runs, err := c.ConformanceRuns(cmd.Context())
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &outList, conformanceTable, runs, nil)
		},
	}
	get := &cobra.Command{
		Use:   "get ID [--report yaml|json|markdown|junit [--out FILE]]",
		Short: "Show one conformance run, or download its report",
		Example: `  meshperf conformance get 6f1c... --report yaml --out report.yaml
  meshperf conformance verify report.yaml --public-key server.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outGet.check(); err != nil {
				return err
			}
			if reportFormat != "" {
				ok := false
				for _, f := range conformance.Formats {
					ok = ok || f == reportFormat
				}
				if !ok {
					return badInput(fmt.Errorf("--report: %q is not one of %s", reportFormat, strings.Join(conformance.Formats, ", ")))
				}
			}
			c, err := rfGet.client()
			if err != nil {
				return err
			}
			if reportFormat != "" {
				b, err := c.ConformanceReport(cmd.Context(), args[0], reportFormat)
				if err != nil {
					return remoteErr(err)
				}
				if reportOut == "" || reportOut == "-" {
					_, err = cmd.OutOrStdout().Write(b)
					return err
				}
				return os.WriteFile(reportOut, b, 0o644)
			}
			run, err := c.ConformanceRun(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &outGet, conformanceTable, []client.ConformanceRun{*run}, run)
		},
	}
	get.Flags().StringVar(&reportFormat, "report", "", "download the report: yaml, json (both signed), markdown or junit")
	get.Flags().StringVar(&reportOut, "out", "", "where to write the report (default stdout)")
	matrix := &cobra.Command{
		Use:   "matrix",
		Short: "The compatibility matrix: the newest result per mesh, version and profile",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := outMatrix.check(); err != nil {
				return err
			}
			c, err := rfMatrix.client()
			if err != nil {
				return err
			}
			cells, err := c.ConformanceMatrix(cmd.Context())
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &outMatrix, matrixTable, cells, nil)
		},
	}
	upload := &cobra.Command{
		Use:   "upload REPORT",
		Short: "Keep a signed report (e.g. a CI job's) on the server; it is verified first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return badInput(err)
			}
			rep, err := conformance.Decode(data)
			if err != nil {
				return badInput(fmt.Errorf("%s: %w", args[0], err))
			}
			var js bytes.Buffer
			if err := rep.Write(&js, conformance.FormatJSON); err != nil {
				return err
			}
			c, err := rfUpload.client()
			if err != nil {
				return err
			}
			run, err := c.UploadConformance(cmd.Context(), js.Bytes())
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "kept as %s (mesh %s %s, signed by key %s)\n", run.ID, orDash(run.Mesh), orDash(run.MeshVersion), run.KeyID)
			return nil
		},
	}
	key := &cobra.Command{
		Use:   "server-key",
		Short: "Print the server's public key (PEM), to verify its reports with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rfKey.client()
			if err != nil {
				return err
			}
			k, err := c.ConformanceKey(cmd.Context())
			if err != nil {
				return remoteErr(err)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), k.PEM)
			return err
		},
	}
	outList.add(list)
	outGet.add(get)
	outMatrix.add(matrix)
	rfList.add(list)
	rfGet.add(get)
	rfMatrix.add(matrix)
	rfUpload.add(upload)
	rfKey.add(key)
	return []*cobra.Command{list, get, matrix, upload, key}
}
