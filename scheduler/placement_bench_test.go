package scheduler

import (
	"fmt"
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

// BenchmarkPlace places 1,000 new pods (100m cpu, 64Mi each) on clusters of
// simulated nodes (4 cpu, 8Gi, 110 pods each) already running bound pods:
// the time per pod grows with the nodes (each pod looks at every node),
// and building the placer with the pods already bound.
func BenchmarkPlace(b *testing.B) {
	for _, nodes := range []int{100, 1000, 5000} {
		for _, bound := range []int{0, 10000, 100000} {
			if bound > nodes*100 {
				continue
			}
			b.Run(fmt.Sprintf("nodes=%d/bound=%d", nodes, bound), func(b *testing.B) {
				ns := make([]*api.Node, nodes)
				for i := range ns {
					ns[i] = node(fmt.Sprintf("n%05d", i), "4", "8Gi", "110")
				}
				running := make([]*api.Pod, bound)
				for i := range running {
					running[i] = placed(fmt.Sprintf("n%05d", i%nodes), "10m", "16Mi")
				}
				fresh := make([]*api.Pod, 1000)
				for i := range fresh {
					fresh[i] = placed("", "100m", "64Mi")
				}
				b.ResetTimer()
				for range b.N {
					p := NewPlacer(ns, running)
					for _, pod := range fresh {
						if n, why := p.Place(pod); n == "" {
							b.Fatalf("no node: %s", why)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fresh)), "ns/pod")
			})
		}
	}
}
