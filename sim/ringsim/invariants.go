package ringsim

import (
	"fmt"
	"slices"
	"strings"
)

// Invariant kinds, as reported. docs/sim.md defines each precisely.
const (
	kindOrderedSuccessors = "ordered-successors" // a list out of clockwise order, with a duplicate, self, or too long
	kindLiveSuccessor     = "live-successor"     // a member with no live entry in its successor list
	kindNoRing            = "no-ring"            // the best-successor graph has no cycle
	kindMultipleRings     = "multiple-rings"     // it has more than one cycle
	kindOrderedRing       = "ordered-ring"       // the cycle does not go round the circle exactly once
	kindReachRing         = "reach-ring"         // a member's best-successor path ends before the ring
	kindOnRing            = "on-ring"            // a member that is not on the ring
	kindIdeal             = "ideal"              // quiescence did not reach the ideal ring in time
	kindSteadyLookup      = "steady-lookup"      // a lookup failed or was wrong in a quiet ideal ring
)

// finding is one failed condition in one sample: the invariant kind, what it
// is about (a node name, or "ring" for the whole), and why.
type finding struct {
	kind    string
	subject string
	detail  string
}

// checkRing evaluates the sampled invariants over the live members' views
// (r is the configured successor list length). The best successor of a
// member is the first entry of its successor list that names a live member;
// following best successors defines a functional graph whose cycles are
// rings and whose other nodes are appendages.
func checkRing(views []nodeView, r int) []finding {
	var out []finding
	index := make(map[string]int, len(views))
	for i, v := range views {
		index[v.name] = i
	}
	for _, v := range views {
		if why := orderProblem(v, r); why != "" {
			out = append(out, finding{kindOrderedSuccessors, v.name, why})
		}
	}
	if len(views) < 2 {
		return out
	}
	best := make([]int, len(views))
	for i, v := range views {
		best[i] = -1
		for _, s := range v.succs {
			if j, ok := index[s.Name]; ok && views[j].id == s.Id {
				best[i] = j
				break
			}
		}
		if best[i] < 0 {
			out = append(out, finding{kindLiveSuccessor, v.name, fmt.Sprintf("no live entry in %s", serverNames(v))})
		}
	}
	g := analyseGraph(best)
	switch len(g.cycles) {
	case 0:
		return append(out, finding{kindNoRing, "ring", "no member's best-successor path comes back to itself"})
	case 1:
	default:
		sizes := make([]string, len(g.cycles))
		for i, cyc := range g.cycles {
			sizes[i] = fmt.Sprintf("%d (via %s)", len(cyc), views[cyc[0]].name)
		}
		out = append(out, finding{kindMultipleRings, "ring", "cycles of sizes " + strings.Join(sizes, ", ")})
	}
	for _, cyc := range g.cycles {
		if laps := wraps(views, cyc); laps != 1 {
			out = append(out, finding{kindOrderedRing, views[cyc[0]].name,
				fmt.Sprintf("the cycle through %s (%d members) wraps past zero %d times", views[cyc[0]].name, len(cyc), laps)})
		}
	}
	for i, v := range views {
		switch {
		case g.cycleOf[i] < 0 && best[i] >= 0:
			out = append(out, finding{kindReachRing, v.name, "best-successor path ends at a member with no live successor"})
		case len(g.cycles) == 1 && !g.onCycle[i] && g.cycleOf[i] >= 0:
			out = append(out, finding{kindOnRing, v.name, fmt.Sprintf("appendage: no member's best successor leads to it (best successor %s)", bestName(views, best[i]))})
		}
	}
	return out
}

// orderProblem describes why v's successor list breaks the ordering
// invariant, or returns "".
func orderProblem(v nodeView, r int) string {
	if len(v.succs) > r {
		return fmt.Sprintf("%d entries, more than r=%d", len(v.succs), r)
	}
	var prev uint64
	seen := make(map[string]bool, len(v.succs))
	for k, s := range v.succs {
		if s.Id == v.id || s.Name == v.name {
			return fmt.Sprintf("entry %d is the node itself", k)
		}
		if seen[s.Name] {
			return fmt.Sprintf("entry %d (%s) is a duplicate", k, s.Name)
		}
		seen[s.Name] = true
		d := s.Id - v.id // clockwise distance on the 64-bit circle
		if k > 0 && d <= prev {
			return fmt.Sprintf("entry %d (%s) is not clockwise after entry %d in %s", k, s.Name, k-1, serverNames(v))
		}
		prev = d
	}
	return ""
}

// wraps counts how many times walking cyc once passes zero on the circle: an
// ordered ring passes it exactly once.
func wraps(views []nodeView, cyc []int) int {
	n := 0
	for k, i := range cyc {
		if views[cyc[(k+1)%len(cyc)]].id <= views[i].id {
			n++
		}
	}
	return n
}

// graph is the analysis of a functional graph given as next pointers (-1 for
// none).
type graph struct {
	cycles  [][]int // each cycle in pointer order
	cycleOf []int   // which cycle each node's path reaches, -1 for a dead end
	onCycle []bool
}

func analyseGraph(next []int) graph {
	const (
		unseen = iota
		onPath
		done
	)
	g := graph{cycleOf: make([]int, len(next)), onCycle: make([]bool, len(next))}
	state := make([]int, len(next))
	var path []int
	for startNode := range next {
		path = path[:0]
		i := startNode
		for i >= 0 && state[i] == unseen {
			state[i] = onPath
			path = append(path, i)
			i = next[i]
		}
		reach := -1
		switch {
		case i >= 0 && state[i] == onPath:
			// A new cycle: the path from i onwards.
			at := slices.Index(path, i)
			cyc := slices.Clone(path[at:])
			reach = len(g.cycles)
			g.cycles = append(g.cycles, cyc)
			for _, c := range cyc {
				g.onCycle[c] = true
			}
		case i >= 0:
			reach = g.cycleOf[i]
		}
		for _, p := range path {
			state[p] = done
			g.cycleOf[p] = reach
		}
	}
	return g
}

func serverNames(v nodeView) string {
	names := make([]string, len(v.succs))
	for i, s := range v.succs {
		names[i] = s.Name
	}
	return "[" + strings.Join(names, " ") + "]"
}

func bestName(views []nodeView, i int) string {
	if i < 0 {
		return "none"
	}
	return views[i].name
}
