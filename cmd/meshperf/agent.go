package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
	"github.com/meshperf/meshperf/internal/selfmetrics"
	"github.com/meshperf/meshperf/perf/distributed"
)

func newAgentCmd() *cobra.Command {
	var url, token, tokenFile, name string
	var labels []string
	var burnCPU bool
	var metricsAddr string
	cmd := &cobra.Command{
		Use:   "agent --nats URL --token-file F --name N [--labels k=v,...]",
		Short: "Run a load-generating agent that announces itself to a server's broker",
		Long: `Run an agent: it connects to the server's broker as its name, proven by its own credential
(MESHPERF_AGENT_TOKEN, --token-file or --token; an admin issues it with
'meshperf agent credential create NAME'), announces itself every 2 s with its labels,
cores, engines and version, estimates its clock offset against the server, and runs
the shards of distributed runs it is assigned. It reconnects by itself after losing
the broker.`,
		Example: `  meshperf agent credential create eu-1 > eu-1.credential     # as an admin
  meshperf agent --nats nats://127.0.0.1:4223 --token-file eu-1.credential --name eu-1 --labels region=eu`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = os.Getenv("MESHPERF_AGENT_TOKEN")
			}
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return badInput(fmt.Errorf("--token-file: %w", err))
				}
				token = strings.TrimSpace(string(b))
			}
			if url == "" {
				return badInput(errors.New("give --nats (and this agent's credential: --token-file, --token or MESHPERF_AGENT_TOKEN)"))
			}
			if name == "" {
				name, _ = os.Hostname()
			}
			lbl := map[string]string{}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return badInput(fmt.Errorf("--labels: %q is not key=value", l))
				}
				lbl[k] = v
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			if burnCPU {
				log.Warn("--burn-cpu: a goroutine spins for the agent's life (a starved generator, for tests)")
				go spin()
			}
			opts := distributed.AgentOptions{URL: url, Credential: token, Name: name, Labels: lbl, Version: version, Logger: log}
			if metricsAddr != "" {
				stopMetrics, addr, err := serveAgentMetrics(metricsAddr, &opts)
				if err != nil {
					return badInput(fmt.Errorf("--metrics-addr: %w", err))
				}
				defer stopMetrics()
				log.Info("serving metrics", "url", "http://"+addr+"/metrics")
			}
			a, err := distributed.ConnectAgent(opts)
			if err != nil {
				return err
			}
			defer a.Close()
			log.Info("agent connected", "name", name, "labels", lbl)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return a.Run(ctx)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&url, "nats", "", "the server's broker, e.g. nats://127.0.0.1:4223")
	fl.StringVar(&token, "token", "", "this agent's credential (prefer --token-file or MESHPERF_AGENT_TOKEN: flags show in process lists)")
	fl.StringVar(&tokenFile, "token-file", "", "file holding this agent's credential")
	fl.StringVar(&name, "name", "", "agent name, the one its credential proves (default: the host name)")
	fl.StringSliceVar(&labels, "labels", nil, "labels key=value, comma-separated")
	fl.StringVar(&metricsAddr, "metrics-addr", "", "serve the agent's own metrics at http://ADDR/metrics, e.g. 127.0.0.1:9464 (empty: off)")
	fl.BoolVar(&burnCPU, "burn-cpu", false, "keep one core busy (tests: with GOMAXPROCS=1, a starved generator)")
	_ = fl.MarkHidden("burn-cpu")

	var rf remoteFlags
	var out outputFlag
	list := &cobra.Command{
		Use: "list", Short: "List the agents a server knows: alive or not, labels, last seen", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			as, err := c.Agents(cmd.Context())
			if err != nil {
				return remoteErr(err)
			}
			return writeList(cmd, &out, table[client.Agent]{
				columns: []string{"NAME", "STATE", "LABELS", "CORES", "VERSION", "CLOCK OFFSET", "LAST SEEN"},
				row: func(a client.Agent) []string {
					state := "alive"
					if !a.Alive {
						state = "gone"
					}
					keys := make([]string, 0, len(a.Labels))
					for k := range a.Labels {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					var lbl []string
					for _, k := range keys {
						lbl = append(lbl, k+"="+a.Labels[k])
					}
					return []string{a.Name, state, orDash(strings.Join(lbl, ",")), strconv.Itoa(a.Cores), a.Version,
						a.ClockOffset.Round(time.Microsecond).String(), time.Since(a.LastSeen).Round(time.Second).String() + " ago"}
				},
				empty: "no agents have announced themselves to this server",
			}, as, nil)
		},
	}
	out.add(list)
	rf.add(list)
	cmd.AddCommand(list)
	cmd.AddCommand(newAgentDeployCmds()...)
	cmd.AddCommand(newAgentCredentialCmd())
	return cmd
}

// spin keeps a core busy forever: with GOMAXPROCS=1 it starves the agent's own
// goroutines the way a generator sharing an overloaded machine is starved.
func spin() {
	for n := 0; ; n++ {
		if n < 0 {
			runtime.Gosched() // never reached: keeps the loop from being optimised away
		}
	}
}

func newAgentCredentialCmd() *cobra.Command {
	cred := &cobra.Command{Use: "credential", Short: "Issue agents' broker credentials (admin)"}
	var rf remoteFlags
	var prefix bool
	var output string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Issue the credential an agent called NAME connects with (printed once)",
		Long: `Issue an agent's own broker credential: the agent connects as NAME and may then only
announce itself, read its own assignments and publish its own intervals. With --prefix,
the credential is for every agent called NAME:<anything> (replicas of one deployment).
The credential is printed once and stored nowhere; replacing the server's
agent-credentials.key revokes every credential.`,
		Example: `  meshperf agent credential create eu-1 > eu-1.credential
  meshperf agent credential create pool --prefix   # agents pool:1, pool:2, ...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			got, err := c.CreateAgentCredential(cmd.Context(), args[0], prefix)
			if err != nil {
				return remoteErr(err)
			}
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), got)
			}
			fmt.Fprintln(cmd.OutOrStdout(), got.Credential)
			return nil
		},
	}
	create.Flags().BoolVar(&prefix, "prefix", false, "for every agent named NAME:<anything>")
	create.Flags().StringVarP(&output, "output", "o", "", "json for scripts")
	rf.add(create)
	cred.AddCommand(create)
	return cred
}

// serveAgentMetrics serves the agent's own registry on addr (no token: bind it where
// only Prometheus reaches) and sets opts.Metrics.
func serveAgentMetrics(addr string, opts *distributed.AgentOptions) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	reg := selfmetrics.NewRegistry()
	opts.Metrics = selfmetrics.NewAgent(reg)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", selfmetrics.Handler(reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, ln.Addr().String(), nil
}
