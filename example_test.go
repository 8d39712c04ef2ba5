package concord_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/concord-kv/concord"
)

// Example opens a single-node cluster in a temporary directory, writes and
// reads a key, and updates it with compare-and-swap.
func Example() {
	dir, err := os.MkdirTemp("", "concord-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	node, err := concord.Open(ctx, concord.Config{DataDir: dir, BindAddr: "127.0.0.1:0", Replicas: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	key := []byte("greeting")
	if _, err := node.Put(ctx, key, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	kv, err := node.Get(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s = %s (version %d)\n", kv.Key, kv.Value, kv.Version)

	// Compare-and-swap: replace the value only if it is still "hello".
	_, err = node.PutIf(ctx, key, []byte("bonjour"), concord.IfValue([]byte("hello")))
	fmt.Println("first swap:", err)
	_, err = node.PutIf(ctx, key, []byte("hola"), concord.IfValue([]byte("hello")))
	fmt.Println("second swap lost:", errors.Is(err, concord.ErrConditionFailed))

	// A strong read confirms leadership with a quorum before reading.
	kv, err = node.Get(ctx, key, concord.WithConsistency(concord.Strong))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s = %s (version %d)\n", kv.Key, kv.Value, kv.Version)

	// A key with a time to live.
	if _, err := node.Put(ctx, []byte("session"), []byte("alice"), concord.WithTTL(time.Hour)); err != nil {
		log.Fatal(err)
	}
	ttl, err := node.TTL(ctx, []byte("session"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("session expires within the hour:", ttl > 0 && ttl <= time.Hour)

	err = node.Delete(ctx, []byte("nothing"))
	fmt.Println("delete of a missing key:", errors.Is(err, concord.ErrNotFound))

	// Output:
	// greeting = hello (version 1)
	// first swap: <nil>
	// second swap lost: true
	// greeting = bonjour (version 2)
	// session expires within the hour: true
	// delete of a missing key: true
}
