package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

// testLogger routes logs to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// fakeSink records every status update handed to it.
type fakeSink struct {
	mu      sync.Mutex
	updates []*api.PodStatusUpdate
}

func (f *fakeSink) Report(u *api.PodStatusUpdate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, proto.CloneOf(u))
}

// statuses returns every status reported for the pod, oldest first.
func (f *fakeSink) statuses(uid string) []*api.PodStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*api.PodStatus
	for _, u := range f.updates {
		if u.GetUid() == uid {
			out = append(out, u.GetStatus())
		}
	}
	return out
}

func (f *fakeSink) last(uid string) *api.PodStatus {
	all := f.statuses(uid)
	if len(all) == 0 {
		return nil
	}
	return all[len(all)-1]
}

// waitFinal waits for the pod's final status and returns it.
func (f *fakeSink) waitFinal(t *testing.T, uid string) *api.PodStatus {
	t.Helper()
	var final *api.PodStatus
	wait.For(t, "final status of "+uid, func() (bool, string) {
		final = f.last(uid)
		return isFinal(final), fmt.Sprintf("last status %v", final)
	})
	return final
}

// waitRunning waits until the pod was reported Running with every
// container running and returns that status.
func (f *fakeSink) waitRunning(t *testing.T, uid string) *api.PodStatus {
	t.Helper()
	var st *api.PodStatus
	wait.For(t, "pod "+uid+" running", func() (bool, string) {
		st = f.last(uid)
		if st.GetPhase() != api.PodRunning {
			return false, fmt.Sprintf("last status %v", st)
		}
		for _, c := range st.GetContainerStatuses() {
			if c.GetState().GetRunning() == nil {
				return false, fmt.Sprintf("container %s not running: %v", c.GetName(), c.GetState())
			}
		}
		return true, ""
	})
	return st
}

// podSummary is what a user reads from `get pod -o json`, for diffs.
type podSummary struct {
	Phase      string
	Reason     string
	Message    string
	Containers []containerSummary
}

type containerSummary struct {
	Name         string
	State        string
	Reason       string
	ExitCode     int32
	RestartCount int32
	LastExitCode int32
}

func summarize(st *api.PodStatus) podSummary {
	s := podSummary{Phase: st.GetPhase(), Reason: st.GetReason(), Message: st.GetMessage()}
	for _, c := range st.GetContainerStatuses() {
		cs := containerSummary{Name: c.GetName(), RestartCount: c.GetRestartCount(), LastExitCode: -1}
		switch state := c.GetState(); {
		case state.GetRunning() != nil:
			cs.State = "running"
		case state.GetWaiting() != nil:
			cs.State, cs.Reason = "waiting", state.GetWaiting().GetReason()
		case state.GetTerminated() != nil:
			cs.State, cs.Reason = "terminated", state.GetTerminated().GetReason()
			cs.ExitCode = state.GetTerminated().GetExitCode()
		}
		if last := c.GetLastState().GetTerminated(); last != nil {
			cs.LastExitCode = last.GetExitCode()
		}
		s.Containers = append(s.Containers, cs)
	}
	return s
}

// testPod builds a pod whose containers run the given shell scripts, named
// c0, c1, ...
type testPod struct {
	name, uid     string
	restartPolicy string
	grace         *int64
	labels        map[string]string
	scripts       []string
}

func (p testPod) build() *api.Pod {
	pod := &api.Pod{
		Metadata: &api.ObjectMeta{Name: p.name, Uid: p.uid, Labels: p.labels},
		Spec: &api.PodSpec{
			RestartPolicy:                 p.restartPolicy,
			TerminationGracePeriodSeconds: p.grace,
		},
	}
	if pod.Spec.RestartPolicy == "" {
		pod.Spec.RestartPolicy = "Never"
	}
	for i, script := range p.scripts {
		pod.Spec.Containers = append(pod.Spec.Containers, &api.Container{
			Name:    "c" + strconv.Itoa(i),
			Image:   "busybox",
			Command: []string{"sh", "-c", script},
		})
	}
	return pod
}

func deleting(pod *api.Pod) *api.Pod {
	pod = proto.CloneOf(pod)
	pod.Metadata.DeletionTimestamp = timestamppb.Now()
	return pod
}

// countingRuntime counts the processes started per pod.
type countingRuntime struct {
	Runtime
	mu     sync.Mutex
	starts map[string]int
	pids   map[string][]int
}

func newCountingRuntime() *countingRuntime {
	return &countingRuntime{Runtime: NewProcessRuntime(), starts: map[string]int{}, pids: map[string][]int{}}
}

func (c *countingRuntime) Start(ctx context.Context, spec ProcessSpec) (Process, error) {
	pod := envValue(spec.Env, "JOBCLUSTER_POD_NAME")
	c.mu.Lock()
	c.starts[pod]++
	c.mu.Unlock()
	p, err := c.Runtime.Start(ctx, spec)
	if err == nil {
		c.mu.Lock()
		c.pids[pod] = append(c.pids[pod], p.PID())
		c.mu.Unlock()
	}
	return p, err
}

func (c *countingRuntime) count(pod string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starts[pod]
}

func (c *countingRuntime) groups(pod string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.pids[pod]...)
}

// groupAlive tells whether any process of the group is still running (a
// zombie waiting for its reaper does not count).
func groupAlive(pgid int) bool { return anyRunsIn(map[int]bool{pgid: true}) }

func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	wait.For(t, fmt.Sprintf("process group %d gone", pgid), func() (bool, string) {
		return !groupAlive(pgid), "still has live members"
	})
}

// newTestSupervisor starts a supervisor on dir with a short back-off; it
// stops every pod when the test ends.
func newTestSupervisor(t *testing.T, dir string, rt Runtime, sink statusSink) *supervisor {
	t.Helper()
	s, err := newSupervisor(supervisorConfig{
		Node:           "node-a",
		DataDir:        dir,
		HostIP:         "127.0.0.1",
		Runtime:        rt,
		Sink:           sink,
		Logger:         testLogger(t),
		RestartBackoff: 100 * time.Millisecond,
		ForgetAfter:    time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.shutdown(ctx, 0); err != nil {
			t.Error(err)
		}
	})
	return s
}

// settle stops the supervisor and waits until every pod runner it started
// has ended, so whatever it was going to start has been started.
func settle(t *testing.T, s *supervisor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.shutdown(ctx, 0); err != nil {
		t.Fatal(err)
	}
}
