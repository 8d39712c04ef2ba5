//go:build race

package ringsim

// raceEnabled shrinks the simulation tests' sizes under the race detector,
// which slows the nodes down several times; every check still runs.
const raceEnabled = true
