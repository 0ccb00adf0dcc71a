package test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// waitRuns waits until the pods' run log satisfies cond and returns it.
func waitRuns(t *testing.T, log *testcluster.RunLog, what string, cond func([]testcluster.Run) bool) []testcluster.Run {
	t.Helper()
	var runs []testcluster.Run
	wait.Within(t, 20*time.Second, what, func() (bool, string) {
		var err error
		runs, err = log.Runs()
		if err != nil {
			return false, err.Error()
		}
		return cond(runs), fmt.Sprintf("runs %+v", runs)
	})
	return runs
}

func readRuns(t *testing.T, log *testcluster.RunLog) []testcluster.Run {
	t.Helper()
	runs, err := log.Runs()
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// assertEachPodStartedOnce fails the test for every pod name that ran more
// than once.
func assertEachPodStartedOnce(t *testing.T, runs []testcluster.Run) {
	t.Helper()
	for pod, n := range testcluster.StartsByPod(runs) {
		if n != 1 {
			t.Errorf("pod %s started %d times, want once", pod, n)
		}
	}
}

// assertAllEnded fails the test for every run that was cut short.
func assertAllEnded(t *testing.T, runs []testcluster.Run) {
	t.Helper()
	for _, r := range runs {
		if !r.Ended {
			t.Errorf("pod %s on %s was killed after running from %s to %s",
				r.Pod, r.Node, r.Start.Format(time.StampMilli), r.LastSeen.Format(time.StampMilli))
		}
	}
}

func countEnded(runs []testcluster.Run) int {
	n := 0
	for _, r := range runs {
		if r.Ended {
			n++
		}
	}
	return n
}

func podNames(runs []testcluster.Run) []string {
	var out []string
	for _, r := range runs {
		if !slices.Contains(out, r.Pod) {
			out = append(out, r.Pod)
		}
	}
	return out
}

// podStates lists "PHASE REASON" of each pod, sorted.
func podStates(pods []testcluster.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Status.Phase+" "+p.Status.Reason)
	}
	slices.Sort(out)
	return out
}

func agentNamed(t *testing.T, c *testcluster.Cluster, name string) *testcluster.Node {
	t.Helper()
	for _, a := range c.Agents {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no agent %s", name)
	return nil
}

// pinned makes a jobDoc manifest's pods run only on node.
func pinned(manifest, node string) string {
	const policy = "      restartPolicy: Never\n"
	return strings.Replace(manifest, policy, policy+"      nodeSelector:\n        kubernetes.io/hostname: "+node+"\n", 1)
}
