package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
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

// A pod that ends before its first report is due is reported once, as it
// ended, sparing the servers an update; one that runs on is reported
// Running once it has run that long, and not before.
func TestSupervisorReportsRunningOnlyOnceThePodRanAWhile(t *testing.T) {
	sink := &fakeSink{}
	s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
	const hold = 2 * time.Second
	s.firstReport = hold
	short := testPod{name: "short", uid: "uid-short", scripts: []string{"exit 0"}}.build()
	long := testPod{name: "long", uid: "uid-long", scripts: []string{"sleep 30"}}.build()
	start := time.Now()
	s.Sync([]*api.Pod{short, long})
	if final := sink.waitFinal(t, "uid-short"); final.GetPhase() != api.PodSucceeded {
		t.Fatalf("short pod ended %s, want Succeeded", final.GetPhase())
	}
	if all := sink.statuses("uid-short"); len(all) != 1 {
		var phases []string
		for _, st := range all {
			phases = append(phases, st.GetPhase())
		}
		t.Errorf("short pod reported %v, want only its end", phases)
	}
	sink.waitRunning(t, "uid-long")
	if took := time.Since(start); took < hold {
		t.Errorf("long pod reported Running %v after it started, want no sooner than %v", took, hold)
	}
}

func TestSupervisorStopsPods(t *testing.T) {
	zero, one := int64(0), int64(1)
	tests := []struct {
		name string
		pod  testPod
		// next is the desired set after the pod runs.
		next func(pod *api.Pod) []*api.Pod
		// waiting stops the pod only once it waits for a restart;
		// otherwise once it runs (and, if its script touches $READY,
		// once it did: a trap is set only after the shell started).
		waiting bool
		want    containerSummary
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
			pod:  testPod{grace: &zero, scripts: []string{"trap '' TERM; touch $READY; sleep 30"}},
			next: func(*api.Pod) []*api.Pod { return nil },
			want: containerSummary{Name: "c0", State: "terminated", Reason: "Killed", ExitCode: 137, LastExitCode: -1},
		},
		{
			name: "process ignoring SIGTERM is killed after the grace period",
			pod:  testPod{grace: &one, scripts: []string{"trap '' TERM; touch $READY; while true; do sleep 0.05; done"}},
			next: func(*api.Pod) []*api.Pod { return nil },
			want: containerSummary{Name: "c0", State: "terminated", Reason: "Killed", ExitCode: 137, LastExitCode: -1},
		},
		{
			name:    "OnFailure pod waiting for its restart ends with its last run",
			pod:     testPod{restartPolicy: "OnFailure", scripts: []string{"exit 4"}},
			next:    func(*api.Pod) []*api.Pod { return nil },
			waiting: true,
			want:    containerSummary{Name: "c0", State: "terminated", Reason: "Error", ExitCode: 4, LastExitCode: -1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{}
			rt := newCountingRuntime()
			s := newTestSupervisor(t, t.TempDir(), rt, sink)
			s.restartBackoff = 10 * time.Minute // no restart during the test
			tt.pod.name, tt.pod.uid = "pod-a", "uid-a"
			ready := filepath.Join(t.TempDir(), "ready")
			for i, sc := range tt.pod.scripts {
				tt.pod.scripts[i] = strings.ReplaceAll(sc, "$READY", ready)
			}
			pod := tt.pod.build()
			s.Sync([]*api.Pod{pod})
			wait.For(t, "a status", func() (bool, string) {
				st := sink.last("uid-a")
				if st == nil {
					return false, "no status"
				}
				state := st.GetContainerStatuses()[0].GetState()
				if tt.waiting {
					return state.GetWaiting() != nil, "not waiting for a restart"
				}
				return state.GetRunning() != nil, "not running"
			})
			if strings.Contains(strings.Join(tt.pod.scripts, ""), ready) {
				wait.For(t, "the script to set its trap", func() (bool, string) {
					_, err := os.Stat(ready)
					return err == nil, fmt.Sprint(err)
				})
			}
			next := tt.next(pod)
			s.Sync(next)
			final := sink.waitFinal(t, "uid-a")
			want := podSummary{Phase: "Failed", Containers: []containerSummary{tt.want}}
			if len(next) == 0 {
				want.Message = "pod is no longer bound to node node-a"
			}
			got := summarize(final)
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
				labels:  map[string]string{"job-name": "job-x", api.LabelCompletionIndex: "3"},
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
	wait.For(t, "three back-offs", func() (bool, string) {
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

func TestSupervisorActiveDeadline(t *testing.T) {
	sink := &fakeSink{}
	s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
	pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"sleep 30"}}.build()
	deadline := int64(1)
	pod.Spec.ActiveDeadlineSeconds = &deadline
	s.Sync([]*api.Pod{pod})
	final := sink.waitFinal(t, "uid-a")
	got := []string{final.GetPhase(), final.GetReason()}
	if want := []string{"Failed", "DeadlineExceeded"}; !cmp.Equal(want, got) {
		t.Errorf("[phase reason] = %v, want %v", got, want)
	}
}

func TestSupervisorStartsAHeldPodOnlyOnceReleased(t *testing.T) {
	sink := &fakeSink{}
	dir := t.TempDir()
	s := newTestSupervisor(t, dir, NewProcessRuntime(), sink)
	stamp := filepath.Join(t.TempDir(), "started")
	pod := testPod{name: "held", uid: "uid-held", scripts: []string{"date +%s%N > " + stamp}}.build()
	s.SyncSet(&api.PodSet{Pods: []*api.Pod{pod}, Held: []string{"uid-held"}})
	waitPrepared(t, s, "held")
	// A window in which a pod started at once would have started.
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(stamp); err == nil {
		t.Fatal("the held pod started before it was released")
	}
	if st := sink.last("uid-held"); st != nil {
		t.Fatalf("the held pod reported %s before it started", st.GetPhase())
	}
	released := time.Now()
	s.SyncSet(&api.PodSet{Pods: []*api.Pod{pod}})
	final := sink.waitFinal(t, "uid-held")
	if final.GetPhase() != api.PodSucceeded {
		t.Fatalf("the released pod ended %s, want Succeeded", final.GetPhase())
	}
	if started := readStamp(t, stamp); started.Before(released) {
		t.Errorf("the pod's process started at %v, before its release at %v", started, released)
	}
	if st := final.GetStartTime().AsTime(); st.Before(released.Truncate(time.Second)) {
		t.Errorf("status.startTime %v is before the release at %v", st, released)
	}
}

func TestSupervisorNeverStartsAHeldPodThatIsWithdrawn(t *testing.T) {
	sink := &fakeSink{}
	dir := t.TempDir()
	s := newTestSupervisor(t, dir, NewProcessRuntime(), sink)
	stamp := filepath.Join(t.TempDir(), "started")
	pod := testPod{name: "held", uid: "uid-held", scripts: []string{"touch " + stamp}}.build()
	s.SyncSet(&api.PodSet{Pods: []*api.Pod{pod}, Held: []string{"uid-held"}})
	waitPrepared(t, s, "held")
	s.SyncSet(&api.PodSet{})
	final := sink.waitFinal(t, "uid-held")
	if _, err := os.Stat(stamp); err == nil {
		t.Fatal("the withdrawn pod's process ran")
	}
	cs := final.GetContainerStatuses()
	if len(cs) != 1 || cs[0].GetState().GetWaiting() == nil {
		t.Errorf("final status %v: want its container still waiting, never started", final)
	}
}

// waitPrepared waits until the pod's directory exists: its journal entry
// is written and, held, it is being prepared.
func waitPrepared(t *testing.T, s *supervisor, pod string) {
	t.Helper()
	wait.For(t, "pod "+pod+" to be prepared", func() (bool, string) {
		_, err := os.Stat(s.journal.podDir(pod))
		return err == nil, fmt.Sprint(err)
	})
}

// readStamp reads the time a pod's `date +%s%N` wrote to path.
func readStamp(t *testing.T, path string) time.Time {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("stamp %q: %v", b, err)
	}
	return time.Unix(0, ns)
}

// timedPod is a pod that writes the time it started to stamp, annotated
// to start at at (api.AnnotationNotBefore).
func timedPod(stamp string, at time.Time) *api.Pod {
	pod := testPod{name: "timed", uid: "uid-timed", scripts: []string{"date +%s%N > " + stamp}}.build()
	pod.Metadata.Annotations = map[string]string{api.AnnotationNotBefore: api.FormatNotBefore(at)}
	return pod
}

func TestSupervisorStartsATimedPodAtItsTimeOnItsOwn(t *testing.T) {
	sink := &fakeSink{}
	s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
	stamp := filepath.Join(t.TempDir(), "started")
	at := time.Now().Add(300 * time.Millisecond)
	pod := timedPod(stamp, at)
	s.SyncSet(&api.PodSet{Pods: []*api.Pod{pod}, Held: []string{"uid-timed"}})
	waitPrepared(t, s, "timed")
	// Released ahead of its time; no later pod set comes.
	s.SyncSet(&api.PodSet{Pods: []*api.Pod{pod}, Timed: []string{"uid-timed"}})
	final := sink.waitFinal(t, "uid-timed")
	if final.GetPhase() != api.PodSucceeded {
		t.Fatalf("the timed pod ended %s, want Succeeded", final.GetPhase())
	}
	if started := readStamp(t, stamp); started.Before(at) {
		t.Errorf("the pod's process started at %v, %v before its time %v", started, at.Sub(started), at)
	}
}

func TestSupervisorStartsATimedPodWhoseTimePassedAtOnce(t *testing.T) {
	sink := &fakeSink{}
	s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
	stamp := filepath.Join(t.TempDir(), "started")
	pod := timedPod(stamp, time.Now().Add(-time.Second))
	s.SyncSet(&api.PodSet{Pods: []*api.Pod{pod}, Timed: []string{"uid-timed"}})
	if final := sink.waitFinal(t, "uid-timed"); final.GetPhase() != api.PodSucceeded {
		t.Fatalf("the timed pod ended %s, want Succeeded", final.GetPhase())
	}
}

func TestSupervisorNeverStartsATimedPodHeldAgainBeforeItsTime(t *testing.T) {
	sink := &fakeSink{}
	s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
	stamp := filepath.Join(t.TempDir(), "started")
	// Far enough ahead that a loaded machine holds it again in time.
	at := time.Now().Add(2 * time.Second)
	pod := timedPod(stamp, at)
	s.SyncSet(&api.PodSet{Pods: []*api.Pod{pod}, Timed: []string{"uid-timed"}})
	waitPrepared(t, s, "timed")
	// A new leader that did not release it holds it again.
	s.SyncSet(&api.PodSet{Pods: []*api.Pod{pod}, Held: []string{"uid-timed"}})
	wait.For(t, "the pod's time to pass", func() (bool, string) {
		return time.Now().After(at.Add(200 * time.Millisecond)), "not yet"
	})
	if _, err := os.Stat(stamp); err == nil {
		t.Fatalf("the pod held again started at %v, its time %v", readStamp(t, stamp), at)
	}
	// Released by that leader at its time, it starts.
	released := time.Now()
	s.SyncSet(&api.PodSet{Pods: []*api.Pod{pod}})
	if final := sink.waitFinal(t, "uid-timed"); final.GetPhase() != api.PodSucceeded {
		t.Fatalf("the released pod ended %s, want Succeeded", final.GetPhase())
	}
	if started := readStamp(t, stamp); started.Before(released) {
		t.Errorf("the pod's process started at %v, before its release at %v", started, released)
	}
}

// journalOrderRuntime prepares runs (Preparer) and starts them with the
// process runtime when they begin, noting whether the journal's fsync had
// returned at each step.
type journalOrderRuntime struct {
	*ProcessRuntime
	prepared chan struct{} // closed by the first Prepare
	once     sync.Once

	mu               sync.Mutex
	synced           bool // set by the test's fsync once it returned
	preparedUnsynced bool
	begunUnsynced    bool
	begun, discards  int
}

func (r *journalOrderRuntime) Prepare(_ context.Context, spec ProcessSpec) (Prepared, error) {
	r.mu.Lock()
	r.preparedUnsynced = !r.synced
	r.mu.Unlock()
	r.once.Do(func() { close(r.prepared) })
	return &orderPrepared{r: r, spec: spec}, nil
}

type orderPrepared struct {
	r    *journalOrderRuntime
	spec ProcessSpec
}

func (p *orderPrepared) ID() string { return "prepared" }

func (p *orderPrepared) Begin() (Process, error) {
	p.r.mu.Lock()
	p.r.begun++
	p.r.begunUnsynced = p.r.begunUnsynced || !p.r.synced
	p.r.mu.Unlock()
	return p.r.ProcessRuntime.Start(context.Background(), p.spec)
}

func (p *orderPrepared) Discard() {
	p.r.mu.Lock()
	p.r.discards++
	p.r.mu.Unlock()
}

// TestSupervisorPreparesAPodWhileItsStartIsJournaled: a pod that may
// start at once has its process prepared while the journal entry that
// records its start is being synced, and the process begins only once
// that entry is durable; a failed sync discards it unbegun.
func TestSupervisorPreparesAPodWhileItsStartIsJournaled(t *testing.T) {
	for _, syncFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync fails %v", syncFails), func(t *testing.T) {
			sink := &fakeSink{}
			rt := &journalOrderRuntime{ProcessRuntime: NewProcessRuntime(), prepared: make(chan struct{})}
			s := newTestSupervisor(t, t.TempDir(), rt, sink)
			s.journal.log.fsync = func(f *os.File) error {
				// The sync lasts until the process is prepared: a
				// pod prepared only after it would never get here.
				select {
				case <-rt.prepared:
				case <-time.After(10 * time.Second):
					t.Error("the pod's process was not prepared while its start was being journaled")
				}
				err := f.Sync()
				if syncFails {
					err = errors.New("disk gone")
				}
				rt.mu.Lock()
				rt.synced = true
				rt.mu.Unlock()
				return err
			}
			stamp := filepath.Join(t.TempDir(), "started")
			pod := testPod{name: "quick", uid: "uid-quick", scripts: []string{"touch " + stamp}}.build()
			s.SyncSet(&api.PodSet{Pods: []*api.Pod{pod}})
			final := sink.waitFinal(t, "uid-quick")
			rt.mu.Lock()
			defer rt.mu.Unlock()
			if !rt.preparedUnsynced {
				t.Error("the process was prepared only after the journal entry was synced")
			}
			if rt.begunUnsynced {
				t.Error("the process began before the journal entry was synced")
			}
			_, statErr := os.Stat(stamp)
			if syncFails {
				if rt.begun != 0 || rt.discards != 1 || statErr == nil {
					t.Errorf("after a failed sync: begun %d, discarded %d, ran %v; want the prepared process discarded unbegun", rt.begun, rt.discards, statErr == nil)
				}
				if final.GetPhase() != api.PodFailed || !strings.Contains(final.GetMessage(), "disk gone") {
					t.Errorf("final status %v: want Failed, saying the journal failed", final)
				}
				return
			}
			if rt.begun != 1 || statErr != nil || final.GetPhase() != api.PodSucceeded {
				t.Errorf("begun %d, stamp %v, phase %s: want the prepared process begun once and the pod Succeeded", rt.begun, statErr, final.GetPhase())
			}
		})
	}
}
