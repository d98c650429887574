//go:build !race

package smp

const raceEnabled = false
