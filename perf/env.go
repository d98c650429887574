package perf

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/meshperf/meshperf/loadgen"
	"github.com/meshperf/meshperf/smp"
)

// LocalEnvironment describes this machine and the engines a config uses.
func LocalEnvironment(version string, cfg *smp.TestConfig) smp.Environment {
	host, _ := os.Hostname()
	env := smp.Environment{ID: uuid.NewString(), Machine: smp.Machine{
		Hostname:        host,
		OS:              runtime.GOOS,
		Arch:            runtime.GOARCH,
		Kernel:          readTrim("/proc/sys/kernel/osrelease"),
		CPUModel:        cpuModel(),
		CPUs:            runtime.NumCPU(),
		MemoryMB:        memTotalMB(),
		GoVersion:       runtime.Version(),
		MeshperfVersion: version,
		Engines:         map[string]string{},
	}}
	for _, c := range cfg.Clients {
		if e, ok := loadgen.Lookup(c.LoadGenerator); ok {
			env.Engines[e.Name()] = e.Version()
		}
	}
	return env
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func memTotalMB() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb / 1024
		}
	}
	return 0
}
