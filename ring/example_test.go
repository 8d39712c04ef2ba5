package ring_test

// These examples are the Go Chord library's README examples with only the
// import path and the package name changed (concord. -> ring.). They are
// compiled by `go test` (no Output comment, so they are not run: they bind
// fixed ports and contact example.com hosts).

import (
	"context"
	"log"

	"github.com/concord-kv/concord/ring"
)

// Creating a New Cluster.
func Example_createCluster() {
	config := ring.Config{
		Name:     "node1",
		BindAddr: "0.0.0.0:7946",
		AdvAddr:  "node1.example.com:7946",
		OnRangeChange: func(r ring.Range) {
			log.Printf("Range changed: %d-%d", r.Start, r.End)
		},
	}
	node := ring.New(config)
	if err := node.Start(); err != nil {
		log.Fatal(err)
	}
	defer node.Stop()
	if err := node.Create(); err != nil {
		log.Fatal(err)
	}
	log.Printf("Node %s (ID: %d) created cluster", node.Name(), node.Id())
}

// Joining an Existing Cluster.
func Example_joinCluster() {
	config := ring.Config{
		Name:     "node2",
		BindAddr: "0.0.0.0:7947",
		AdvAddr:  "node2.example.com:7947",
	}
	node := ring.New(config)
	if err := node.Start(); err != nil {
		log.Fatal(err)
	}
	defer node.Stop()
	ctx := context.Background()
	if err := node.Join(ctx, "node1.example.com:7946"); err != nil {
		log.Fatal(err)
	}
	log.Printf("Node %s joined cluster", node.Name())
}

// Key Lookup.
func ExampleNode_Lookup() {
	node := ring.New(ring.Config{Name: "node1", BindAddr: "127.0.0.1:0"})
	key := []byte("my-key")
	server, err := node.Lookup(key)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("Key is managed by node %s (ID: %d) at %s",
		server.Name, server.Id, server.Address)
}
