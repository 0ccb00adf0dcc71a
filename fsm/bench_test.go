package fsm

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// benchState is an FSM holding one node and a running Job "bench" that
// any number of pods fits (parallelism and completions are huge), with
// some of its pods already finished, as in a big Job well under way.
type benchState struct {
	f     *FSM
	job   *api.Job
	index uint64
	next  int
}

// benchStates caches one state per number of finished pods: building
// one is slow, and every benchmark iteration leaves it as it found it.
var benchStates = map[int]*benchState{}

func newBenchState(b *testing.B, finished int) *benchState {
	b.Helper()
	if s, ok := benchStates[finished]; ok {
		return s
	}
	s := &benchState{f: New(nil), job: newJob("bench", parallelism(1<<30), completions(1<<30))}
	s.must(b, upsertNode(newNode("n1")), upsertJob(s.job, true))
	if finished > 0 {
		done := s.newPods(finished)
		s.must(b, createPods(done...))
		s.must(b, updatePodStatus(updates(done, api.PodSucceeded)...))
	}
	benchStates[finished] = s
	return s
}

func (s *benchState) apply(cmds ...*api.Command) []error {
	s.index++
	return s.f.ApplyBatch(s.index, &api.CommandBatch{Commands: cmds}).Errors
}

func (s *benchState) must(b *testing.B, cmds ...*api.Command) {
	b.Helper()
	for i, err := range s.apply(cmds...) {
		if err != nil {
			b.Fatalf("command %d (%v) refused: %v", i, cmds[i].GetType(), err)
		}
	}
}

// newPods makes n pods of the Job, bound to n1 as the job controller
// creates them.
func (s *benchState) newPods(n int) []*api.Pod {
	out := make([]*api.Pod, n)
	for i := range out {
		out[i] = newPod(s.job, fmt.Sprintf("bench-%d", s.next), -1)
		out[i].Spec.NodeName = "n1"
		s.next++
	}
	return out
}

// updates reports each pod in phase ph, as its node would.
func updates(ps []*api.Pod, ph string) []*api.PodStatusUpdate {
	out := make([]*api.PodStatusUpdate, len(ps))
	for i, p := range ps {
		out[i] = phase(p.GetMetadata().GetName(), "n1", ph)
		out[i].Uid = p.GetMetadata().GetUid()
	}
	return out
}

// removePods deletes pods again, so every iteration starts from the same
// state.
func (s *benchState) removePods(b *testing.B, ps []*api.Pod) {
	b.Helper()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.GetMetadata().GetName()
	}
	s.must(b, deletePods(names...))
}

// countPods counts the Job's pods in phase ph.
func (s *benchState) countPods(ph string) int {
	n := 0
	for _, p := range s.f.State().PodsOfJob("", "bench") {
		if p.GetStatus().GetPhase() == ph {
			n++
		}
	}
	return n
}

var benchSizes = []struct{ finished, batch int }{
	{0, 100}, {0, 1000},
	{10000, 1}, {10000, 100}, {10000, 1000},
}

// BenchmarkApplyCreatePods applies one CreatePods command of batch pods to
// a Job that has finished pods already; every pod is re-checked against
// its Job when applied.
func BenchmarkApplyCreatePods(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("finished=%d/batch=%d", size.finished, size.batch), func(b *testing.B) {
			s := newBenchState(b, size.finished)
			warm := s.newPods(size.batch)
			s.must(b, createPods(warm...))
			if got := s.countPods(api.PodPending); got != size.batch {
				b.Fatalf("after CreatePods of %d pods: %d pending, want %d", size.batch, got, size.batch)
			}
			s.removePods(b, warm)
			ps := s.newPods(size.batch)
			cmd := createPods(ps...)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				s.apply(cmd)
				b.StopTimer()
				s.removePods(b, ps)
				ps = s.newPods(size.batch)
				cmd = createPods(ps...)
				b.StartTimer()
			}
			b.StopTimer()
			s.removePods(b, ps)
			b.ReportMetric(float64(size.batch*b.N)/b.Elapsed().Seconds(), "pods/s")
		})
	}
}

// BenchmarkApplyUpdatePodStatus applies one UpdatePodStatus command that
// reports batch pods Running, as an agent's report does. Reporting the
// same pods again each iteration keeps the state the same throughout: a
// report of a final phase could be applied only once.
func BenchmarkApplyUpdatePodStatus(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("finished=%d/batch=%d", size.finished, size.batch), func(b *testing.B) {
			s := newBenchState(b, size.finished)
			ps := s.newPods(size.batch)
			s.must(b, createPods(ps...))
			defer s.removePods(b, ps)
			cmd := updatePodStatus(updates(ps, api.PodRunning)...)
			s.must(b, cmd)
			if got := s.countPods(api.PodRunning); got != size.batch {
				b.Fatalf("after UpdatePodStatus of %d pods: %d running, want %d", size.batch, got, size.batch)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				s.apply(cmd)
			}
			b.ReportMetric(float64(size.batch*b.N)/b.Elapsed().Seconds(), "pods/s")
		})
	}
}

// BenchmarkApplyEntry applies a log entry as Raft hands it over: decoded,
// then applied. The entry reports 100 pods Running, as an agent's report
// does (the same pods each iteration, which keeps the state the same).
// "copied" applies the decoded commands as a caller that keeps them
// (ApplyBatch), the store taking copies of what it holds; "kept" as Apply
// does, the store keeping what was decoded.
func BenchmarkApplyEntry(b *testing.B) {
	s := newBenchState(b, 0)
	ps := s.newPods(100)
	s.must(b, createPods(ps...))
	defer s.removePods(b, ps)
	data, err := Encode(updatePodStatus(updates(ps, api.PodRunning)...))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("copied", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var batch api.CommandBatch
			if err := proto.Unmarshal(data, &batch); err != nil {
				b.Fatal(err)
			}
			s.index++
			s.f.ApplyBatch(s.index, &batch)
		}
	})
	b.Run("kept", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.index++
			s.f.Apply(rawLog(s.index, data))
		}
	})
	if got := s.countPods(api.PodRunning); got != len(ps) {
		b.Fatalf("%d pods running, want %d", got, len(ps))
	}
}

// finishedStore fills a store with finished one-pod Jobs through the
// commands a cluster applies: create, bind, succeed, complete.
func finishedStore(b *testing.B, jobs int) *FSM { return finishedStoreWithTails(b, jobs, noTail) }

// noTail, as finishedStoreWithTails' tailBytes, ships no tail at all.
const noTail = -1

// finishedStoreWithTails is finishedStore whose pods ship a log tail of
// tailBytes with their final status, as agents do (0: an empty one, of a
// container that wrote nothing).
func finishedStoreWithTails(b *testing.B, jobs, tailBytes int) *FSM {
	b.Helper()
	line := "2026-12-05T00:00:00Z worker step done, 38 bytes\n"
	tail := []byte(strings.Repeat(line, max(tailBytes/len(line), 1)))
	s := &benchState{f: New(nil)}
	s.must(b, upsertNode(newNode("n1")))
	for i := range jobs {
		j := newJob(fmt.Sprintf("finished-%d", i))
		p := newPod(j, fmt.Sprintf("finished-%d-x", i), -1)
		s.must(b, upsertJob(j, true), createPods(p))
		s.must(b, bindPods(3, p.GetMetadata().GetName(), "n1"))
		done := phase(p.GetMetadata().GetName(), "n1", api.PodSucceeded)
		switch {
		case tailBytes > 0:
			done.LogTails = []*api.ContainerLogTail{{Container: "main", Data: tail}}
		case tailBytes == 0:
			done.LogTails = []*api.ContainerLogTail{{Container: "main"}}
		}
		s.must(b, updatePodStatus(done))
		s.must(b, updateJobStatus(j.GetMetadata().GetName(), j.GetMetadata().GetUid(), &api.JobStatus{
			Succeeded: 1, StartTime: at(2), CompletionTime: at(8),
			Conditions: []*api.JobCondition{{Type: api.JobComplete, Status: "True", LastTransitionTime: at(8)}}}))
	}
	if got := len(s.f.State().Jobs()); got != jobs {
		b.Fatalf("stored %d Jobs, want %d", got, jobs)
	}
	return s.f
}

// BenchmarkFinishedJobFootprint reports the live heap each finished
// one-pod Job (with its pod) holds in the store, its pod's container
// having written nothing (an empty tail) or its agent having shipped no
// tail.
func BenchmarkFinishedJobFootprint(b *testing.B) {
	b.Run("no-tail", func(b *testing.B) { finishedJobFootprint(b, noTail) })
	b.Run("empty-tail", func(b *testing.B) { finishedJobFootprint(b, 0) })
}

func finishedJobFootprint(b *testing.B, tailBytes int) {
	const jobs = 10000
	for range b.N {
		b.StopTimer()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		f := finishedStoreWithTails(b, jobs, tailBytes)
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/jobs, "heap-B/job")
		runtime.KeepAlive(f)
		b.StartTimer()
	}
}

// BenchmarkFinishedJobsWithTails holds 100,000 finished one-pod Jobs whose
// pods each shipped 200 lines (8 KiB) of log tail, 780 MiB in all before
// the cluster-wide bound: it reports the live heap, the tails kept and
// the snapshot's size.
func BenchmarkFinishedJobsWithTails(b *testing.B) {
	const jobs = 100000
	for range b.N {
		f := finishedStoreWithTails(b, jobs, 8<<10)
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		sink := &bufferSink{}
		snap, err := f.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		if err := snap.Persist(sink); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(f.tailBytes)/(1<<20), "tails-MiB")
		b.ReportMetric(float64(len(all[*api.LogTail](f.State().txn, tableLogTails, "id"))), "tails-kept")
		b.ReportMetric(float64(sink.Len())/(1<<20), "snapshot-MiB")
		b.StartTimer()
	}
}

// BenchmarkSnapshotFinishedJobs persists and restores a store of 10,000
// finished one-pod Jobs, as a restarted server does.
func BenchmarkSnapshotFinishedJobs(b *testing.B) {
	const jobs = 10000
	f := finishedStore(b, jobs)
	var data []byte
	b.Run("persist", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			sink := &bufferSink{}
			snap, err := f.Snapshot()
			if err != nil {
				b.Fatal(err)
			}
			if err := snap.Persist(sink); err != nil {
				b.Fatal(err)
			}
			data = sink.Bytes()
		}
		b.ReportMetric(float64(len(data))/jobs, "snapshot-B/job")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*jobs), "ns/job")
	})
	b.Run("restore", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			g := New(nil)
			if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*jobs), "ns/job")
	})
}

// BenchmarkJobPods reads a running Job's pods as its controller does on
// every pass, beside finished pods of the same Job, and 200 running.
func BenchmarkJobPods(b *testing.B) {
	for _, finished := range []int{0, 10000} {
		b.Run(fmt.Sprintf("finished=%d", finished), func(b *testing.B) {
			s := newBenchState(b, finished)
			ps := s.newPods(200)
			s.must(b, createPods(ps...))
			defer s.removePods(b, ps)
			st := s.f.State()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				pods, sum := st.JobPods("", "bench")
				if len(pods) != 200 || sum.Count != finished {
					b.Fatalf("JobPods: %d whole, %d succeeded; want 200 and %d", len(pods), sum.Count, finished)
				}
			}
		})
	}
}

// BenchmarkCompressPod compresses a succeeded pod's encoding as freeze
// does when the pod finishes, on every server, and reports its compressed
// size; and decompresses it, as every read of a finished pod does.
func BenchmarkCompressPod(b *testing.B) {
	j := newJob("bench-job")
	p := newPod(j, "bench-job-x7k2p", -1)
	p.Spec.NodeName = "agent-1"
	p.Status = &api.PodStatus{Phase: api.PodSucceeded, HostIp: "10.0.0.7", StartTime: at(3),
		Conditions: []*api.PodCondition{{Type: api.PodScheduled, Status: api.ConditionTrue, LastTransitionTime: at(2)}},
		ContainerStatuses: []*api.ContainerStatus{{Name: "main", Image: "busybox", Started: proto.Bool(false),
			State: &api.ContainerState{Terminated: &api.ContainerStateTerminated{Reason: "Completed", StartedAt: at(3), FinishedAt: at(4)}}}}}
	data, err := proto.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	f := &frozen{name: "bench-job-x7k2p", data: compress(data)}
	b.Run("compress", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f.data = compress(data)
		}
		b.ReportMetric(float64(len(data)), "encoded-bytes")
		b.ReportMetric(float64(len(f.data)), "compressed-bytes")
	})
	b.Run("decompress", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf := expand(f)
			if !bytes.Equal(buf.Bytes(), data) {
				b.Fatal("decompress gave another encoding than the one compressed")
			}
			buffers.Put(buf)
		}
	})
}

// BenchmarkFinishedPodIdentity looks up a finished pod's UID and node, as
// PodsExist does for every finished pod an agent keeps the log of, against
// decoding the whole pod.
func BenchmarkFinishedPodIdentity(b *testing.B) {
	f := finishedStore(b, 1000)
	st := f.State()
	const name = "finished-500-x"
	if !storedFrozen(b, f, tablePods, name) {
		b.Fatalf("pod %s is not stored encoded", name)
	}
	b.Run("PodIdentity", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if uid, node, ok := st.PodIdentity(name); !ok || uid != "uid-"+name || node != "n1" {
				b.Fatalf("PodIdentity = %q, %q, %v", uid, node, ok)
			}
		}
	})
	b.Run("Pod", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if p := st.Pod(name); p.GetMetadata().GetUid() != "uid-"+name {
				b.Fatalf("Pod has UID %q", p.GetMetadata().GetUid())
			}
		}
	})
}

// BenchmarkApplyJobEvents applies the events of a job controller pass that
// created 100 pods of one Job, to a store already holding as many events
// as it keeps (maxEvents, one per pod as each pod's scheduling leaves),
// and the Job its most (maxEventsPerObject). "each" is one event per pod,
// each pushing an older one out; "combined" is one event counted 100
// times, as the leader records them once a Job has had ten.
func BenchmarkApplyJobEvents(b *testing.B) {
	const pods = 100
	for _, shape := range []string{"each", "combined"} {
		b.Run(shape, func(b *testing.B) {
			s := &benchState{f: New(nil)}
			for i := 0; i < maxEvents; i += 1000 {
				var evs []*api.Event
				for j := i; j < i+1000; j++ {
					evs = append(evs, newEvent(fmt.Sprintf("p%d.ev", j), "Pod", fmt.Sprintf("p%d", j), "Scheduled", 0))
				}
				s.must(b, recordEvents(evs...))
			}
			var job []*api.Event
			for j := range maxEventsPerObject {
				job = append(job, newEvent(fmt.Sprintf("bench.%d", j), "Job", "bench", "SuccessfulCreate", 0))
			}
			s.must(b, recordEvents(job...))
			sec := 1
			cmd := func() *api.Command {
				sec++
				if shape == "combined" {
					e := newEvent("bench.combined", "Job", "bench", "SuccessfulCreate", sec)
					e.Count = pods
					return recordEvents(e)
				}
				evs := make([]*api.Event, pods)
				for j := range evs {
					evs[j] = newEvent(fmt.Sprintf("bench.%d.%d", sec, j), "Job", "bench", "SuccessfulCreate", sec)
				}
				return recordEvents(evs...)
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				c := cmd()
				b.StartTimer()
				s.must(b, c)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*pods), "ns/pod")
		})
	}
}

// BenchmarkJobPage reads the summaries of 100,000 finished one-pod Jobs,
// orders them by name descending (which moves every one) and picks the
// first page of 100: what a server does for the web UI's Jobs page,
// before decoding the page's Jobs.
func BenchmarkJobPage(b *testing.B) {
	const jobs = 100000
	f := finishedStore(b, jobs)
	q := api.JobQuery{Sort: "-name", PageSize: 100}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		p := api.PageJobs(f.State().JobSummaries(nil), q, now)
		if p.Total != jobs || len(p.Rows) != 100 {
			b.Fatalf("paged %d Jobs into %d rows, want %d into 100", p.Total, len(p.Rows), jobs)
		}
	}
}
