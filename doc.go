// Package concord is Concord's embedded node: Open starts a member of a
// Concord cluster in this process, wiring the ring, gossip membership, the
// multi-raft store, placement and routing together, and Node offers the
// key-value API (Put, Get, Txn, Scan, Watch, ...) that the KV interface
// names. RingNode is the ring with gossip alone, for applications that
// only need the DHT.
//
// The package also owns the API's vocabulary: the options, the sentinel
// errors and their wire codes (Code), and the gRPC KV and admin services
// every node serves. Front ends that present the same API elsewhere (the
// remote client in api/client, the HTTP API in api/httpapi) import it;
// it imports none of them.
package concord
