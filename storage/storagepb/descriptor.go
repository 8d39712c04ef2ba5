package storagepb

import "slices"

// VoterNodes names the nodes of the descriptor's voters, sorted, so that
// two descriptors have the same voters exactly when their VoterNodes are
// equal.
func (d *RangeDescriptor) VoterNodes() []string {
	var out []string
	for _, rd := range d.GetReplicas() {
		if rd.GetType() == ReplicaType_VOTER {
			out = append(out, rd.GetNode())
		}
	}
	slices.Sort(out)
	return out
}
