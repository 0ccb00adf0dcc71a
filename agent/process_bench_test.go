package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jobcluster/jobcluster/api"
)

// BenchmarkProcessStart starts /bin/true and waits for it, as a pod's run
// does, without cgroups, in a cgroup of this machine's default hierarchy,
// and there prepared then begun (Preparer): what a start costs on an idle
// machine, beside what it costs in a busy cluster (BENCHMARKS.md). It
// reports the CPU of each run's process (child-ms/op) and of this side,
// the runtime's start and wait (self-ms/op).
func BenchmarkProcessStart(b *testing.B) {
	b.Run("no cgroups", func(b *testing.B) { benchmarkStarts(b, NewProcessRuntime(), false) })
	if os.Geteuid() != 0 {
		b.Skip("cgroups need root")
	}
	parent := filepath.Join("jobcluster-bench", newCgroupName())
	r, _, err := NewProcessRuntimeWith(ProcessOptions{Cgroups: true, CgroupParent: parent, CgroupRoot: defaultCgroupRoot})
	if err != nil {
		b.Fatal(err)
	}
	if r.cgroups == nil {
		b.Skip("cgroups are not writable here")
	}
	b.Cleanup(func() {
		for _, dir := range r.cgroups.paths(parent) {
			for _, d := range []string{dir, filepath.Dir(dir)} {
				if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EBUSY) {
					b.Errorf("remove benchmark cgroup parent: %v", err)
				}
			}
		}
	})
	b.Run("in a cgroup", func(b *testing.B) { benchmarkStarts(b, r, false) })
	b.Run("in a cgroup, prepared then begun", func(b *testing.B) { benchmarkStarts(b, r, true) })
}

func benchmarkStarts(b *testing.B, r *ProcessRuntime, prepare bool) {
	out, err := os.Create(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	spec := ProcessSpec{Command: []string{"/bin/true"}, Dir: b.TempDir(), Stdout: out, Container: &api.Container{Name: "c"}}
	self, children := rusageCPU(b, unix.RUSAGE_SELF), rusageCPU(b, unix.RUSAGE_CHILDREN)
	for b.Loop() {
		var p Process
		if prepare {
			pp, err := r.Prepare(context.Background(), spec)
			if err == nil && pp != nil {
				p, err = pp.Begin()
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if p == nil {
			if p, err = r.Start(context.Background(), spec); err != nil {
				b.Fatal(err)
			}
		}
		if code, err := p.Wait(); err != nil || code != 0 {
			b.Fatalf("true exited %d: %v", code, err)
		}
	}
	perRun := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	b.ReportMetric(perRun(rusageCPU(b, unix.RUSAGE_CHILDREN)-children), "child-ms/op")
	b.ReportMetric(perRun(rusageCPU(b, unix.RUSAGE_SELF)-self), "self-ms/op")
}

// rusageCPU is the user and system CPU of who (this process, or its
// children waited for) so far.
func rusageCPU(b *testing.B, who int) time.Duration {
	var u unix.Rusage
	if err := unix.Getrusage(who, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
