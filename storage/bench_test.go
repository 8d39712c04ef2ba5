package storage

import (
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// BenchmarkGroupCommit measures what group commit buys on this machine's
// disk: appending one entry to each of N ranges' logs in one synced batch
// ("grouped") versus one synced batch per range ("separate"). ns/entry is
// the cost of making one entry durable. Run with
//
//	go test -run '^$' -bench GroupCommit ./storage/
func BenchmarkGroupCommit(b *testing.B) {
	for _, n := range []int{1, 16, 128} {
		for _, grouped := range []bool{true, false} {
			mode := "separate"
			if grouped {
				mode = "grouped"
			}
			b.Run(fmt.Sprintf("%s/ranges=%d", mode, n), func(b *testing.B) {
				e, err := Open(b.TempDir(), Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				logs := make([]*RaftLog, n)
				for i := range logs {
					if logs[i], err = e.RaftLog(uint64(i + 1)); err != nil {
						b.Fatal(err)
					}
				}
				payload := make([]byte, 256)
				index := uint64(0)
				for b.Loop() {
					index++
					var batch *Batch
					for _, l := range logs {
						if batch == nil {
							batch = e.NewBatch()
						}
						es := []*raftpb.Entry{ent(index, 1, string(payload))}
						if err := l.Append(batch, es); err != nil {
							b.Fatal(err)
						}
						if !grouped {
							if err := batch.Commit(true); err != nil {
								b.Fatal(err)
							}
							batch = nil
						}
					}
					if grouped {
						if err := batch.Commit(true); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
			})
		}
	}
}
