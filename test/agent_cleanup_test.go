package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// TestDeletedJobLeavesNoPodDirectories runs a Job of 150 pods on one
// agent, deletes it, and waits for the agent to remove every pod
// directory of it, while the logs of a finished Job that stays remain.
// An agent asks again about a finished pod the servers said they hold
// once they report a pod removed since, at its next round (every 10 s).
func TestDeletedJobLeavesNoPodDirectories(t *testing.T) {
	const pods = 150
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1})
	podsDir := filepath.Join(c.Agents[0].DataDir, "pods")
	jobDirs := func(prefix string) []string {
		entries, err := os.ReadDir(podsDir)
		if err != nil {
			t.Fatal(err)
		}
		var dirs []string
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				dirs = append(dirs, e.Name())
			}
		}
		return dirs
	}

	c.Submit(jobDoc("kept", "", "Never", "echo kept"))
	c.Submit(jobDoc("many", fmt.Sprintf("completions: %d\nparallelism: 100", pods), "Never", "true"))
	c.WaitJob("kept", 30*time.Second)
	c.WaitJob("many", 120*time.Second)
	if got := len(jobDirs("many-")); got != pods {
		t.Fatalf("%d pod directories of the finished Job, want %d", got, pods)
	}

	deleted := time.Now()
	c.MustCLI("delete", "job", "many")
	wait.Within(t, 90*time.Second, "the deleted Job's pod directories to go", func() (bool, string) {
		left := jobDirs("many-")
		return len(left) == 0, fmt.Sprintf("%d left", len(left))
	})
	t.Logf("the directories of %d pods were gone %v after the delete", pods, time.Since(deleted).Round(100*time.Millisecond))

	kept := jobDirs("kept-")
	if len(kept) != 1 {
		t.Fatalf("pod directories of the Job that stays: %v, want one", kept)
	}
	if got := strings.TrimSpace(c.MustCLI("logs", kept[0])); got != "kept" {
		t.Errorf("logs of the finished pod of the Job that stays: %q, want kept", got)
	}
}
