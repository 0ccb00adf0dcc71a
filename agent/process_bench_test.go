package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/jobcluster/jobcluster/api"
)

// BenchmarkProcessStart starts /bin/true and waits for it, as a pod's run
// does, without cgroups, in a cgroup of this machine's default hierarchy,
// and there prepared then begun (Preparer): what a start costs on an idle
// machine, beside what it costs in a busy cluster (BENCHMARKS.md).
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
}
