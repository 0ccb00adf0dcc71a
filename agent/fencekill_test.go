package agent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/jobcluster/jobcluster/api"
)

func TestLapsedAt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	tests := []struct {
		name     string
		deadline time.Time
		lapses   []lapse
		at       time.Time
		want     bool
	}{
		{name: "no word of the lease yet", at: sec(5), want: false},
		{name: "before the deadline", deadline: sec(10), at: sec(9.9), want: false},
		{name: "at the deadline", deadline: sec(10), at: sec(10), want: true},
		{name: "past the deadline, not renewed", deadline: sec(10), at: sec(30), want: true},
		{name: "inside a lapse that a renewal ended", deadline: sec(20), lapses: []lapse{{sec(10), sec(12)}}, at: sec(11), want: true},
		{name: "just after a lapse, within the slack", deadline: sec(20), lapses: []lapse{{sec(10), sec(12)}}, at: sec(13.5), want: true},
		{name: "well after a lapse", deadline: sec(20), lapses: []lapse{{sec(10), sec(12)}}, at: sec(15), want: false},
		{name: "before a lapse", deadline: sec(20), lapses: []lapse{{sec(10), sec(12)}}, at: sec(9), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lapsedAt(tt.deadline, tt.lapses, tt.at); got != tt.want {
				t.Errorf("lapsedAt = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLeaseLapsesRecordsOnlyGaps(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var l leaseLapses
	l.extended(t0, 3*time.Second)                    // deadline 3 s
	l.extended(t0.Add(time.Second), 3*time.Second)   // renewed in time: deadline 4 s
	l.extended(t0.Add(6*time.Second), 3*time.Second) // ran out at 4 s, held again at 6 s
	for i := range 6 {
		l.extended(t0.Add(time.Duration(20+10*i)*time.Second), time.Second) // six more lapses
	}
	if len(l.lapses) != maxLapses {
		t.Fatalf("%d lapses kept, want %d", len(l.lapses), maxLapses)
	}
	if l.lapsedAt(t0.Add(5 * time.Second)) {
		t.Error("the oldest lapse is still remembered beyond the bound")
	}
	if !l.lapsedAt(t0.Add(75 * time.Second)) {
		t.Error("the latest lapse is forgotten")
	}
}

func TestLostToFence(t *testing.T) {
	tests := []struct {
		name           string
		code           int
		killedByRunner bool
		lapsed         bool
		want           bool
	}{
		{name: "SIGKILL from outside while the lease ran out", code: 137, lapsed: true, want: true},
		{name: "SIGKILL from outside while the lease holds (the OOM killer, a user)", code: 137, want: false},
		{name: "SIGKILL the runner sent", code: 137, killedByRunner: true, lapsed: true, want: false},
		{name: "an ordinary failure while the lease ran out", code: 1, lapsed: true, want: false},
		{name: "success while the lease ran out", code: 0, lapsed: true, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lostToFence(tt.code, tt.killedByRunner, tt.lapsed); got != tt.want {
				t.Errorf("lostToFence = %v, want %v", got, tt.want)
			}
		})
	}
}

// A pod the agent-guard kills when the lease runs out is lost with the
// node, whatever the agent saw first: reported NodeLost, it does not count
// against the Job's backoffLimit, and an OnFailure pod is not restarted
// beside its replacement.
func TestPodKilledWhenTheLeaseRanOutIsNodeLost(t *testing.T) {
	for _, tt := range []struct {
		name          string
		restartPolicy string
		lapsed        bool
		want          podSummary
	}{
		{name: "lease ran out", lapsed: true, want: podSummary{Phase: "Failed", Reason: api.ReasonNodeLost,
			Message:    "node node-a lost contact with the servers: the pod was killed when its lease ran out",
			Containers: []containerSummary{{Name: "c0", State: "terminated", Reason: "Killed", ExitCode: 137, LastExitCode: -1}}}},
		{name: "lease ran out, OnFailure", restartPolicy: "OnFailure", lapsed: true, want: podSummary{Phase: "Failed", Reason: api.ReasonNodeLost,
			Message:    "node node-a lost contact with the servers: the pod was killed when its lease ran out",
			Containers: []containerSummary{{Name: "c0", State: "terminated", Reason: "Killed", ExitCode: 137, LastExitCode: -1}}}},
		{name: "lease held", want: podSummary{Phase: "Failed",
			Containers: []containerSummary{{Name: "c0", State: "terminated", Reason: "Error", ExitCode: 137, LastExitCode: -1}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{}
			rt := newCountingRuntime()
			s := newTestSupervisor(t, t.TempDir(), rt, sink)
			if tt.lapsed {
				s.lapses.extended(time.Now().Add(-10*time.Second), 3*time.Second)
			} else {
				s.lapses.extended(time.Now(), time.Hour)
			}
			pod := testPod{name: "pod-a", uid: "uid-a", restartPolicy: tt.restartPolicy, scripts: []string{"sleep 30"}}.build()
			if tt.restartPolicy == "" {
				pod.Spec.RestartPolicy = "Never"
			}
			s.Sync([]*api.Pod{pod})
			sink.waitRunning(t, "uid-a")
			// What the guard does: SIGKILL to the process group.
			for _, pgid := range rt.groups("pod-a") {
				if err := unix.Kill(-pgid, unix.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			got := summarize(sink.waitFinal(t, "uid-a"))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("final status (-want +got):\n%s", diff)
			}
			if tt.restartPolicy == "OnFailure" && tt.lapsed {
				if n := rt.count("pod-a"); n != 1 {
					t.Errorf("the pod's container started %d times, want 1: restarted after the fence", n)
				}
			}
		})
	}
}
