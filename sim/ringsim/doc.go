// Package ringsim simulates a Concord ring: N ring nodes in one process on
// an in-memory network, with real gRPC and real gossip (memberlist), driven
// through build-up, steady state, Poisson churn and quiescence while an
// independent observer checks the ring invariants of Zave's provably correct
// Chord.
//
// The observer never asks the nodes what they think of each other's health:
// it knows which nodes the simulation crashed and when, reads every node's
// pointers (successor list, predecessor, range) and judges them against that
// ground truth. Lookup answers are judged the same way, against the live set
// at the time of the lookup.
//
// Run is the entry point; the command in ../ (go run ./sim ring) is a thin
// flag parser around it, and docs/sim.md describes the invariants precisely.
package ringsim
