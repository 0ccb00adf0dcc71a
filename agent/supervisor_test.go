package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

func TestSupervisorRunsPodToTheEnd(t *testing.T) {
	tests := []struct {
		name string
		pod  testPod
		want podSummary
	}{
		{
			name: "exit zero succeeds",
			pod:  testPod{scripts: []string{"echo hi"}},
			want: podSummary{Phase: "Succeeded", Containers: []containerSummary{
				{Name: "c0", State: "terminated", Reason: "Completed", LastExitCode: -1},
			}},
		},
		{
			name: "non-zero exit with restartPolicy Never fails",
			pod:  testPod{scripts: []string{"echo hi; exit 3"}},
			want: podSummary{Phase: "Failed", Containers: []containerSummary{
				{Name: "c0", State: "terminated", Reason: "Error", ExitCode: 3, LastExitCode: -1},
			}},
		},
		{
			name: "one of two containers fails",
			pod:  testPod{scripts: []string{"exit 0", "sleep 0.2; exit 1"}},
			want: podSummary{Phase: "Failed", Containers: []containerSummary{
				{Name: "c0", State: "terminated", Reason: "Completed", LastExitCode: -1},
				{Name: "c1", State: "terminated", Reason: "Error", ExitCode: 1, LastExitCode: -1},
			}},
		},
		{
			name: "two containers side by side both succeed",
			pod:  testPod{scripts: []string{"sleep 0.2", "sleep 0.1"}},
			want: podSummary{Phase: "Succeeded", Containers: []containerSummary{
				{Name: "c0", State: "terminated", Reason: "Completed", LastExitCode: -1},
				{Name: "c1", State: "terminated", Reason: "Completed", LastExitCode: -1},
			}},
		},
		{
			name: "OnFailure restarts the failed container in place",
			pod: testPod{restartPolicy: "OnFailure", scripts: []string{
				"if [ -f marker ]; then exit 0; fi; touch marker; exit 2",
			}},
			want: podSummary{Phase: "Succeeded", Containers: []containerSummary{
				{Name: "c0", State: "terminated", Reason: "Completed", RestartCount: 1, LastExitCode: 2},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{}
			s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
			tt.pod.name, tt.pod.uid = "pod-a", "uid-a"
			s.Sync([]*api.Pod{tt.pod.build()})
			final := sink.waitFinal(t, "uid-a")
			if diff := cmp.Diff(tt.want, summarize(final)); diff != "" {
				t.Errorf("final status (-want +got):\n%s", diff)
			}
			for _, c := range final.GetContainerStatuses() {
				term := c.GetState().GetTerminated()
				if term.GetStartedAt() == nil || term.GetFinishedAt() == nil {
					t.Errorf("container %s terminated without startedAt/finishedAt: %v", c.GetName(), term)
				}
			}
		})
	}
}

func TestSupervisorReportsRunningPod(t *testing.T) {
	sink := &fakeSink{}
	s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
	pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"sleep 30"}}.build()
	pod.Spec.Containers[0].Image = "busybox:1.36"
	s.Sync([]*api.Pod{pod})
	st := sink.waitRunning(t, "uid-a")

	if st.GetHostIp() != "127.0.0.1" || st.GetStartTime() == nil {
		t.Errorf("hostIP %q startTime %v, want 127.0.0.1 and a time", st.GetHostIp(), st.GetStartTime())
	}
	c := st.GetContainerStatuses()[0]
	got := []any{c.GetName(), c.GetImage(), c.GetStarted(), c.GetReady(), c.GetRestartCount(), c.GetState().GetRunning().GetStartedAt() != nil}
	want := []any{"c0", "busybox:1.36", true, true, int32(0), true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("container status [name image started ready restartCount hasStartedAt] (-want +got):\n%s", diff)
	}
}

func TestSupervisorStopsPods(t *testing.T) {
	zero, one := int64(0), int64(1)
	tests := []struct {
		name string
		pod  testPod
		// next is the desired set after the pod runs.
		next func(pod *api.Pod) []*api.Pod
		want containerSummary
	}{
		{
			name: "pod marked for deletion gets SIGTERM",
			pod:  testPod{scripts: []string{"sleep 30 & wait"}},
			next: func(pod *api.Pod) []*api.Pod { return []*api.Pod{deleting(pod)} },
			want: containerSummary{Name: "c0", State: "terminated", Reason: "Error", ExitCode: 143, LastExitCode: -1},
		},
		{
			name: "pod absent from the desired set is stopped",
			pod:  testPod{scripts: []string{"sleep 30"}},
			next: func(*api.Pod) []*api.Pod { return nil },
			want: containerSummary{Name: "c0", State: "terminated", Reason: "Error", ExitCode: 143, LastExitCode: -1},
		},
		{
			name: "zero grace period kills at once",
			pod:  testPod{grace: &zero, scripts: []string{"trap '' TERM; sleep 30"}},
			next: func(*api.Pod) []*api.Pod { return nil },
			want: containerSummary{Name: "c0", State: "terminated", Reason: "Killed", ExitCode: 137, LastExitCode: -1},
		},
		{
			name: "process ignoring SIGTERM is killed after the grace period",
			pod:  testPod{grace: &one, scripts: []string{"trap '' TERM; while true; do sleep 0.05; done"}},
			next: func(*api.Pod) []*api.Pod { return nil },
			want: containerSummary{Name: "c0", State: "terminated", Reason: "Killed", ExitCode: 137, LastExitCode: -1},
		},
		{
			name: "OnFailure pod waiting for its restart ends with its last run",
			pod:  testPod{restartPolicy: "OnFailure", scripts: []string{"exit 4"}},
			next: func(*api.Pod) []*api.Pod { return nil },
			want: containerSummary{Name: "c0", State: "terminated", Reason: "Error", ExitCode: 4, LastExitCode: -1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{}
			rt := newCountingRuntime()
			s := newTestSupervisor(t, t.TempDir(), rt, sink)
			s.restartBackoff = 10 * time.Minute // no restart during the test
			tt.pod.name, tt.pod.uid = "pod-a", "uid-a"
			pod := tt.pod.build()
			s.Sync([]*api.Pod{pod})
			waitFor(t, "a status", func() (bool, string) {
				st := sink.last("uid-a")
				return st != nil && (st.GetContainerStatuses()[0].GetState().GetRunning() != nil ||
					st.GetContainerStatuses()[0].GetState().GetWaiting() != nil), "not running nor waiting"
			})
			s.Sync(tt.next(pod))
			final := sink.waitFinal(t, "uid-a")
			want := podSummary{Phase: "Failed", Containers: []containerSummary{tt.want}}
			got := summarize(final)
			got.Message = ""
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("final status (-want +got):\n%s", diff)
			}
			for _, pgid := range rt.groups("pod-a") {
				if groupAlive(pgid) {
					t.Errorf("process group %d still alive after the pod ended", pgid)
				}
			}
		})
	}
}

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
		if n := rt.count("pod-a"); n != 0 {
			t.Errorf("pod started %d times after the restart, want never", n)
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
	if n := rt.count("pod-c"); n != 0 {
		t.Errorf("new pod started %d times while fenced, want never", n)
	}
	s.unfence()
	s.Sync([]*api.Pod{podA, podB, podC})
	if got := sink.waitFinal(t, "uid-c").GetPhase(); got != "Succeeded" {
		t.Errorf("new pod after the lease came back: phase %q, want Succeeded", got)
	}
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
	state := filepath.Join(dir, "pods", "pod-a", "state.json")

	s.Sync(nil)
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("record of an unreported pod: %v, want it kept", err)
	}
	s.markReported("uid-a")
	s.Sync(nil)
	waitFor(t, "record forgotten", func() (bool, string) {
		s.Sync(nil)
		_, err := os.Stat(state)
		return os.IsNotExist(err), "state.json still there"
	})
	log, err := os.ReadFile(filepath.Join(dir, "pods", "pod-a", "c0.log"))
	if err != nil || string(log) != "done\n" {
		t.Errorf("log of the forgotten pod = %q, %v; want it kept", log, err)
	}
}

func TestSupervisorPodDeletedBeforeItStarted(t *testing.T) {
	sink := &fakeSink{}
	rt := newCountingRuntime()
	s := newTestSupervisor(t, t.TempDir(), rt, sink)
	pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"exit 0"}}.build()
	s.Sync([]*api.Pod{deleting(pod)})
	final := sink.waitFinal(t, "uid-a")
	if final.GetPhase() != "Failed" || rt.count("pod-a") != 0 {
		t.Errorf("phase %q after %d starts, want Failed without a start", final.GetPhase(), rt.count("pod-a"))
	}
}

func TestSupervisorEnvironment(t *testing.T) {
	workDir := t.TempDir()
	tests := []struct {
		name       string
		workingDir string
		wantDir    func(dataDir string) string
	}{
		{
			name:    "default working directory is fresh in the pod directory",
			wantDir: func(dataDir string) string { return filepath.Join(dataDir, "pods", "pod-a", "work") },
		},
		{
			name:       "container workingDir",
			workingDir: workDir,
			wantDir:    func(string) string { return workDir },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := t.TempDir()
			sink := &fakeSink{}
			s := newTestSupervisor(t, dataDir, NewProcessRuntime(), sink)
			pod := testPod{
				name: "pod-a", uid: "uid-a",
				labels:  map[string]string{"job-name": "job-x", labelCompletionIndex: "3"},
				scripts: []string{`pwd; echo "HOSTNAME=$HOSTNAME"; env | grep -E '^(JOB|GREETING)' | sort`},
			}.build()
			pod.Spec.Containers[0].WorkingDir = tt.workingDir
			pod.Spec.Containers[0].Env = []*api.EnvVar{{Name: "GREETING", Value: "hello $(JOBCLUSTER_POD_NAME)"}}
			s.Sync([]*api.Pod{pod})
			sink.waitFinal(t, "uid-a")
			out, err := os.ReadFile(filepath.Join(dataDir, "pods", "pod-a", "c0.log"))
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				tt.wantDir(dataDir),
				"HOSTNAME=pod-a",
				"GREETING=hello pod-a",
				"JOBCLUSTER_JOB_NAME=job-x",
				"JOBCLUSTER_NODE_NAME=node-a",
				"JOBCLUSTER_POD_NAME=pod-a",
				"JOB_COMPLETION_INDEX=3",
			}
			if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(string(out)), "\n")); diff != "" {
				t.Errorf("process output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSupervisorCrashLoopBackOff(t *testing.T) {
	sink := &fakeSink{}
	s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
	s.Sync([]*api.Pod{testPod{name: "pod-a", uid: "uid-a", restartPolicy: "OnFailure", scripts: []string{"exit 5"}}.build()})

	type observed struct {
		Restarts int32
		Waiting  string
		Message  string
		LastExit int32
		Phase    string
	}
	want := []observed{
		{Restarts: 0, Waiting: "CrashLoopBackOff", Message: "back-off 100ms restarting failed container=c0 pod=pod-a", LastExit: 5, Phase: "Running"},
		{Restarts: 1, Waiting: "CrashLoopBackOff", Message: "back-off 200ms restarting failed container=c0 pod=pod-a", LastExit: 5, Phase: "Running"},
		{Restarts: 2, Waiting: "CrashLoopBackOff", Message: "back-off 400ms restarting failed container=c0 pod=pod-a", LastExit: 5, Phase: "Running"},
	}
	var got []observed
	waitFor(t, "three back-offs", func() (bool, string) {
		got = nil
		for _, st := range sink.statuses("uid-a") {
			c := st.GetContainerStatuses()[0]
			if w := c.GetState().GetWaiting(); w != nil {
				got = append(got, observed{c.GetRestartCount(), w.GetReason(), w.GetMessage(), c.GetLastState().GetTerminated().GetExitCode(), st.GetPhase()})
			}
		}
		return len(got) >= 3, fmt.Sprintf("%d back-offs seen", len(got))
	})
	if diff := cmp.Diff(want, got[:3]); diff != "" {
		t.Errorf("statuses while backing off (-want +got):\n%s", diff)
	}
}
