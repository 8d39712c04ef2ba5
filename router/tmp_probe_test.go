package router

import (
	"bytes"
	"testing"
	"time"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

func TestProbeLarge(t *testing.T) {
	c := newTestCluster(t, 4)
	c.threeRanges()
	value := bytes.Repeat([]byte("x"), 900<<10)
	for _, n := range []int{1, 3} {
		puts := &kvpb.PutManyRequest{}
		for i := range n {
			puts.Items = append(puts.Items, &kvpb.PutRequest{Key: []byte(keyIn(arcs[0], "big", i)), Value: value})
		}
		start := time.Now()
		_, err := c.node("n1").store.Write(testCtx(t, 20*time.Second), 1, &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: puts}})
		t.Logf("direct %d items: %v %v", n, time.Since(start), err)
		start = time.Now()
		_, err = c.node("n4").router.Write(testCtx(t, 20*time.Second), &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: puts}})
		t.Logf("via n4 %d items: %v %v", n, time.Since(start), err)
	}
}

var probeTick = 100 * time.Millisecond
