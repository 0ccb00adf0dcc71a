package fsm

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

func TestChangesSinceAndTooOld(t *testing.T) {
	defer func(n int) { maxChanges = n }(maxChanges)
	maxChanges = 4
	h := newHarness(t)
	h.must(upsertJob(newJob("a"), true))                  // 1
	h.must(upsertJob(newJob("b"), true))                  // 2
	h.must(updateJobStatus("a", "uid-a", completeStatus)) // 3: frozen, still a change
	h.must(deleteJob("b", "uid-b"))                       // 4
	changes, ok := h.f.ChangesSince(1)
	if !ok || len(changes) != 3 {
		t.Fatalf("changes since 1: %d, ok %v", len(changes), ok)
	}
	want := []string{"ADDED b", "MODIFIED a", "DELETED b"}
	for i, c := range changes {
		if got := c.Type + " " + api.NameOf(c.Object()); got != want[i] {
			t.Errorf("change %d = %q, want %q", i, got, want[i])
		}
	}
	for i := range 4 {
		h.must(upsertJob(newJob("x"+string(rune('a'+i))), true)) // 5..8
	}
	if _, ok := h.f.ChangesSince(2); ok {
		t.Error("changes since 2 were forgotten, yet reported complete")
	}
	if changes, ok := h.f.ChangesSince(6); !ok || len(changes) != 2 {
		t.Errorf("changes since 6: %d, ok %v; want 2", len(changes), ok)
	}
}

// TestChangesAcrossCompactions applies many more changes than the log
// keeps: it always holds exactly the latest maxChanges.
func TestChangesAcrossCompactions(t *testing.T) {
	defer func(n int) { maxChanges = n }(maxChanges)
	maxChanges = 3
	h := newHarness(t)
	for i := range 20 {
		h.must(upsertJob(newJob("j"+string(rune('a'+i))), true)) // index i+1
		last := uint64(i + 1)
		if last > 3 {
			if _, ok := h.f.ChangesSince(last - 4); ok {
				t.Fatalf("after %d changes: changes since %d reported complete, want forgotten", last, last-4)
			}
		}
		from := last - min(last, 3)
		changes, ok := h.f.ChangesSince(from)
		if !ok || len(changes) != int(last-from) || changes[len(changes)-1].Index != last {
			t.Fatalf("after %d changes: since %d gave %d changes, ok %v", last, from, len(changes), ok)
		}
	}
}

// A forgotten change lets go of the object it held: a watch log of
// 20,000 changes must not keep as many old versions of a big Job's pods
// again in the slice it has not compacted yet.
func TestForgottenChangesReleaseTheirObjects(t *testing.T) {
	defer func(n int) { maxChanges = n }(maxChanges)
	maxChanges = 100
	h := newHarness(t)
	h.must(upsertJob(newJob("gone"), true))
	h.must(deleteJob("gone", "uid-gone"))
	released := make(chan struct{})
	func() {
		l := &h.f.changeLog
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, c := range l.changes {
			runtime.AddCleanup(c.obj.(*api.Job), func(ch chan struct{}) { close(ch) }, released)
			break // the first: the Job as added
		}
	}()
	// Just past forgetting them: far from compacting the slice.
	for i := 0; ; i++ {
		if _, ok := h.f.ChangesSince(2); !ok {
			break
		}
		h.must(upsertJob(newJob(fmt.Sprintf("j%d", i)), true))
	}
	wait.Within(t, 5*time.Second, "the forgotten change's Job to be collected", func() (bool, string) {
		runtime.GC()
		select {
		case <-released:
			return true, ""
		default:
			return false, "the Job of a forgotten change is still reachable"
		}
	})
	runtime.KeepAlive(h.f) // the log itself stays
}
