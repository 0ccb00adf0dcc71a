package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

func TestSupervisorStartsAPodOnce(t *testing.T) {
	tests := []struct {
		name   string
		script string
		// between runs between the first and the second Sync.
		between func(t *testing.T, s *supervisor, sink *fakeSink)
	}{
		{
			name:    "same UID in two sets while it runs",
			script:  "sleep 30",
			between: func(t *testing.T, _ *supervisor, sink *fakeSink) { sink.waitRunning(t, "uid-a") },
		},
		{
			name:    "finished pod still listed before its report was applied",
			script:  "exit 0",
			between: func(t *testing.T, _ *supervisor, sink *fakeSink) { sink.waitFinal(t, "uid-a") },
		},
		{
			name:   "finished and reported pod listed again by a lagging server",
			script: "exit 1",
			between: func(t *testing.T, s *supervisor, sink *fakeSink) {
				sink.waitFinal(t, "uid-a")
				s.markReported("uid-a")
			},
		},
		{
			name:   "fenced pod listed again",
			script: "sleep 30",
			between: func(t *testing.T, s *supervisor, sink *fakeSink) {
				sink.waitRunning(t, "uid-a")
				s.fence()
				sink.waitFinal(t, "uid-a")
				s.unfence()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{}
			rt := newCountingRuntime()
			s := newTestSupervisor(t, t.TempDir(), rt, sink)
			pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{tt.script}}.build()
			s.Sync([]*api.Pod{pod})
			tt.between(t, s, sink)
			s.Sync([]*api.Pod{pod})
			s.Sync([]*api.Pod{proto.CloneOf(pod)})
			settle(t, s)
			if got := rt.count("pod-a"); got != 1 {
				t.Errorf("pod started %d times, want once", got)
			}
		})
	}
}

func TestSupervisorAfterRestart(t *testing.T) {
	t.Run("running pod is killed and reported NodeLost, never restarted", func(t *testing.T) {
		dir := t.TempDir()
		first := newCountingRuntime()
		s1 := newTestSupervisor(t, dir, first, &fakeSink{})
		s1Sink := s1.sink.(*fakeSink)
		pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"sleep 30; echo"}}.build()
		s1.Sync([]*api.Pod{pod})
		s1Sink.waitRunning(t, "uid-a")

		// A new supervisor on the same data directory is the agent after a
		// crash: the old processes (a sleep under sh) are still there.
		sink := &fakeSink{}
		second := newCountingRuntime()
		s2 := newTestSupervisor(t, dir, second, sink)
		final := sink.waitFinal(t, "uid-a")
		for _, pgid := range first.groups("pod-a") {
			waitGroupGone(t, pgid)
		}
		got := summarize(final)
		want := podSummary{
			Phase:   "Failed",
			Reason:  "NodeLost",
			Message: "agent on node node-a restarted while the pod was running",
			Containers: []containerSummary{
				{Name: "c0", State: "terminated", Reason: "Killed", ExitCode: 137, LastExitCode: -1},
			},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("status reported after restart (-want +got):\n%s", diff)
		}
		s2.Sync([]*api.Pod{pod})
		settle(t, s2)
		if n := second.count("pod-a"); n != 0 {
			t.Errorf("pod started %d times after the restart, want never", n)
		}
	})
	t.Run("unreported final status is reported again", func(t *testing.T) {
		dir := t.TempDir()
		s1 := newTestSupervisor(t, dir, NewProcessRuntime(), &fakeSink{})
		pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"exit 0"}}.build()
		s1.Sync([]*api.Pod{pod})
		s1.sink.(*fakeSink).waitFinal(t, "uid-a")

		sink := &fakeSink{}
		rt := newCountingRuntime()
		s2 := newTestSupervisor(t, dir, rt, sink)
		if got := sink.last("uid-a").GetPhase(); got != "Succeeded" {
			t.Errorf("phase reported after restart = %q, want Succeeded", got)
		}
		s2.Sync([]*api.Pod{pod})
		settle(t, s2)
		if n := rt.count("pod-a"); n != 0 {
			t.Errorf("pod started %d times after the restart, want never", n)
		}
	})
	t.Run("many pods finished, some reported: none starts again", func(t *testing.T) {
		dir := t.TempDir()
		sink1 := &fakeSink{}
		s1 := newTestSupervisor(t, dir, NewProcessRuntime(), sink1)
		var pods []*api.Pod
		for i := range 20 {
			pods = append(pods, testPod{name: fmt.Sprint("pod-", i), uid: fmt.Sprint("uid-", i), scripts: []string{"exit 0"}}.build())
		}
		s1.Sync(pods)
		for i := range pods {
			sink1.waitFinal(t, fmt.Sprint("uid-", i))
			if i%2 == 0 {
				s1.markReported(fmt.Sprint("uid-", i))
			}
		}

		rt := newCountingRuntime()
		s2 := newTestSupervisor(t, dir, rt, &fakeSink{})
		s2.Sync(pods)
		settle(t, s2)
		for i := range pods {
			if n := rt.count(fmt.Sprint("pod-", i)); n != 0 {
				t.Errorf("pod-%d started %d times after the restart, want never", i, n)
			}
		}
	})
	t.Run("reported final status is not reported again", func(t *testing.T) {
		dir := t.TempDir()
		s1 := newTestSupervisor(t, dir, NewProcessRuntime(), &fakeSink{})
		s1.Sync([]*api.Pod{testPod{name: "pod-a", uid: "uid-a", scripts: []string{"exit 0"}}.build()})
		s1.sink.(*fakeSink).waitFinal(t, "uid-a")
		s1.markReported("uid-a")

		sink := &fakeSink{}
		newTestSupervisor(t, dir, NewProcessRuntime(), sink)
		if got := sink.statuses("uid-a"); len(got) != 0 {
			t.Errorf("statuses reported after restart: %v, want none", got)
		}
	})
}

func TestSupervisorFence(t *testing.T) {
	sink := &fakeSink{}
	rt := newCountingRuntime()
	s := newTestSupervisor(t, t.TempDir(), rt, sink)
	podA := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"sleep 30 & wait"}}.build()
	podB := testPod{name: "pod-b", uid: "uid-b", scripts: []string{"sleep 30", "sleep 30"}}.build()
	s.Sync([]*api.Pod{podA, podB})
	sink.waitRunning(t, "uid-a")
	sink.waitRunning(t, "uid-b")

	s.fence()
	for _, uid := range []string{"uid-a", "uid-b"} {
		final := sink.waitFinal(t, uid)
		got := []string{final.GetPhase(), final.GetReason(), final.GetMessage()}
		want := []string{"Failed", "NodeLost", "node node-a lost contact with the servers"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s after fencing [phase reason message] (-want +got):\n%s", uid, diff)
		}
		for _, c := range final.GetContainerStatuses() {
			if code := c.GetState().GetTerminated().GetExitCode(); code != 137 {
				t.Errorf("%s container %s exit code %d, want 137 (SIGKILL)", uid, c.GetName(), code)
			}
		}
	}
	for _, pod := range []string{"pod-a", "pod-b"} {
		for _, pgid := range rt.groups(pod) {
			waitGroupGone(t, pgid)
		}
	}

	podC := testPod{name: "pod-c", uid: "uid-c", scripts: []string{"exit 0"}}.build()
	s.Sync([]*api.Pod{podA, podB, podC})
	if rec, _ := s.lookup("pod-c"); rec != nil {
		t.Errorf("new pod started while fenced")
	}
	s.unfence()
	s.Sync([]*api.Pod{podA, podB, podC})
	if got := sink.waitFinal(t, "uid-c").GetPhase(); got != "Succeeded" {
		t.Errorf("new pod after the lease came back: phase %q, want Succeeded", got)
	}
	settle(t, s)
	if a, b := rt.count("pod-a"), rt.count("pod-b"); a != 1 || b != 2 {
		t.Errorf("fenced pods started %d and %d times, want 1 and 2 (one per container)", a, b)
	}
}

func TestSupervisorForgetsReportedPods(t *testing.T) {
	dir := t.TempDir()
	sink := &fakeSink{}
	s := newTestSupervisor(t, dir, NewProcessRuntime(), sink)
	pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"echo done"}}.build()
	s.Sync([]*api.Pod{pod})
	sink.waitFinal(t, "uid-a")

	s.Sync(nil)
	if !journaled(t, dir, "uid-a") {
		t.Fatalf("record of an unreported pod dropped from the journal, want it kept")
	}
	s.markReported("uid-a")
	s.Sync(nil)
	wait.For(t, "record forgotten", func() (bool, string) {
		s.Sync(nil)
		return !journaled(t, dir, "uid-a"), "record still in the journal"
	})
	if _, err := os.Stat(filepath.Join(dir, "pods", "pod-a", workDir)); !os.IsNotExist(err) {
		t.Errorf("working directory of the forgotten pod: %v, want it removed", err)
	}
	log, err := os.ReadFile(filepath.Join(dir, "pods", "pod-a", "c0.log"))
	if err != nil || string(log) != "done\n" {
		t.Errorf("log of the forgotten pod = %q, %v; want it kept", log, err)
	}
}

// journaled tells whether the journal in the data directory holds a
// record of the pod, reading the file as a restarted agent would but
// without rewriting it.
func journaled(t *testing.T, dataDir, uid string) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, "pods", journalFile))
	if err != nil {
		t.Fatal(err)
	}
	live, errs := replay(data, parseLine)
	if len(errs) > 0 {
		t.Fatalf("read journal: %v", errs)
	}
	_, ok := live[uid]
	return ok
}

func TestSupervisorPodDeletedBeforeItStarted(t *testing.T) {
	sink := &fakeSink{}
	rt := newCountingRuntime()
	s := newTestSupervisor(t, t.TempDir(), rt, sink)
	pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"exit 0"}}.build()
	s.Sync([]*api.Pod{deleting(pod)})
	final := sink.waitFinal(t, "uid-a")
	settle(t, s)
	if final.GetPhase() != "Failed" || rt.count("pod-a") != 0 {
		t.Errorf("phase %q after %d starts, want Failed without a start", final.GetPhase(), rt.count("pod-a"))
	}
}
