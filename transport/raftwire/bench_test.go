package raftwire

import (
	"testing"
	"time"

	"github.com/concord-kv/concord/transport"
)

// benchmarkStream measures raft messages per second through one peer
// stream: the sender keeps at most half a queue in flight so nothing is
// dropped, and the clock stops when the receiver has everything.
func benchmarkStream(b *testing.B, a, r *node) {
	const burst = 64
	msgs := make([]Message, burst)
	for i := range msgs {
		// About the size of a heartbeat or a small MsgApp.
		msgs[i] = msg(uint64(i%16+1), uint64(i+1), 32)
	}
	window := uint64(DefaultQueueLen / 2)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var sent uint64
	for sent < uint64(b.N) {
		for sent >= r.tr.Stats().MessagesReceived+window {
			<-r.rec.notify
		}
		n := min(burst, uint64(b.N)-sent)
		a.tr.Send(r.name, msgs[:n]...)
		sent += n
	}
	for r.tr.Stats().MessagesReceived < uint64(b.N) {
		select {
		case <-r.rec.notify:
		case <-time.After(10 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if d := a.tr.Stats().Dropped(); d != 0 {
		b.Fatalf("%d dropped", d)
	}
	st := a.tr.Stats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(st.MessagesSent)/float64(max(st.BatchesSent, 1)), "msgs/batch")
}

func BenchmarkStreamMem(b *testing.B) {
	c := newCluster(b)
	a := c.add("a", "127.7.0.1", nil)
	r := c.add("b", "127.7.0.2", func(cfg *Config) {
		cfg.Handler = countingHandler{cfg.Handler.(*recorder)}
	})
	benchmarkStream(b, a, r)
}

func BenchmarkStreamTCP(b *testing.B) {
	c := newCluster(b)
	tcp := func(name string) *node {
		rec := newRecorder()
		return c.serve(Config{Node: name, Network: transport.TCP(), Resolve: c.resolve, Handler: countingHandler{rec}}, rec, "127.0.0.1:0")
	}
	a, r := tcp("a"), tcp("b")
	benchmarkStream(b, a, r)
}

// countingHandler only signals message batches, keeping nothing, so memory
// does not grow with b.N (the Transport's own counters count them).
type countingHandler struct{ *recorder }

func (h countingHandler) HandleMessages(string, []Message) {
	select {
	case h.notify <- struct{}{}:
	default:
	}
}
