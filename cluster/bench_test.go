package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// BenchmarkPropose replicates one-command proposals from concurrent
// callers through a real three-server cluster on loopback (Raft log on
// disk, fsync per entry) and reports commands per second and commands per
// log entry: the proposer gathers what concurrent callers send into one
// entry, so throughput is not bounded by one fsync per command.
func BenchmarkPropose(b *testing.B) {
	servers, _ := startServers(b, 3)
	leader := leaderOf(b, servers)
	var seq atomic.Int64
	for _, callers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			first := leader.raft.LastIndex()
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, callers)
			b.ReportAllocs()
			b.ResetTimer()
			for range callers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						n := seq.Add(1)
						ev := &api.Event{
							Metadata:       &api.ObjectMeta{Name: fmt.Sprintf("bench.%d", n), Namespace: "default"},
							InvolvedObject: &api.ObjectReference{Kind: "Job", Name: "bench"},
							Reason:         "Bench", Message: "proposed", Type: "Normal", Count: 1,
							FirstTimestamp: timestamppb.Now(), LastTimestamp: timestamppb.Now(),
						}
						cmd := (&api.RecordEvents{Events: []*api.Event{ev}}).Command()
						refused, err := leader.proposer.Propose(ctx, cmd)
						if err == nil && len(refused) == 1 && refused[0] != nil {
							err = refused[0]
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			select {
			case err := <-errs:
				b.Fatalf("propose: %v", err)
			default:
			}
			entries := leader.raft.LastIndex() - first
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmds/s")
			if entries > 0 {
				b.ReportMetric(float64(b.N)/float64(entries), "cmds/entry")
			}
		})
	}
}
