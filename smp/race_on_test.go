//go:build race

package smp

// raceEnabled: under -race sync.Pool drops a quarter of what it is given, on purpose.
const raceEnabled = true
