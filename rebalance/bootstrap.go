package rebalance

import "github.com/concord-kv/concord/storage/storagepb"

// BootstrapRangeID is the id of a cluster's first range.
const BootstrapRangeID = 1

// BootstrapDescriptor is the descriptor of a new cluster's first range:
// the whole circle, start == end == the creating node's ring id, with one
// voter on that node. Pass it to rangegroup.Store.CreateRange on the node
// that creates the ring; the rebalancer splits and spreads it as members
// join.
func BootstrapDescriptor(node string, id uint64) *storagepb.RangeDescriptor {
	return &storagepb.RangeDescriptor{
		RangeId:       BootstrapRangeID,
		Start:         id,
		End:           id,
		Replicas:      []*storagepb.ReplicaDescriptor{{Node: node, ReplicaId: 1, Type: storagepb.ReplicaType_VOTER}},
		Generation:    1,
		NextReplicaId: 2,
	}
}
