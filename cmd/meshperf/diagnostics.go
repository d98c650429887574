package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// startDiagnostics starts an execution trace and a CPU profile of a run when asked, and
// writes a heap profile when it stops (the hidden --trace, --cpuprofile and
// --memprofile of run): how the generator's own delays and memory are found.
func startDiagnostics(tracePath, profilePath, heapPath string) (stop func(), err error) {
	var stops []func()
	if heapPath != "" {
		stops = append(stops, func() {
			if f, err := os.Create(heapPath); err == nil {
				runtime.GC() // the profile shows what is live at the end
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		})
	}
	stop = func() {
		for _, s := range stops {
			s()
		}
	}
	if tracePath != "" {
		f, err := os.Create(tracePath)
		if err != nil {
			return stop, fmt.Errorf("--trace: %w", err)
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			return stop, fmt.Errorf("--trace: %w", err)
		}
		stops = append(stops, func() { trace.Stop(); f.Close() })
	}
	if profilePath != "" {
		f, err := os.Create(profilePath)
		if err != nil {
			stop()
			return func() {}, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			stop()
			return func() {}, fmt.Errorf("--cpuprofile: %w", err)
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	return stop, nil
}
