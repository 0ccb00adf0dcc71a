package test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// TestDescribeNodeShowsItsUnfinishedPods runs a pod that finishes and one
// that keeps running on one agent: the pods selected as unfinished, the
// CLI's describe node and kubectl's show the running one only.
func TestDescribeNodeShowsItsUnfinishedPods(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1, HTTP: true})
	node := c.Agents[0].Name
	c.Submit(fmt.Sprintf(quickJob, "done"))
	c.WaitJob("done", time.Minute)
	c.Submit(strings.ReplaceAll(strings.ReplaceAll(sleepJob, "%s", "long"), "sleep 1", "sleep 600"))
	var running string
	wait.For(t, "long's pod running", func() (bool, string) {
		out := c.MustCLI("get", "pods", "-l", "job-name=long", "--field-selector", "status.phase=Running", "-o", "name")
		running = strings.TrimPrefix(strings.TrimSpace(out), "pod/")
		return strings.HasPrefix(running, "long-"), out
	})

	all := c.MustCLI("get", "pods", "-o", "name")
	if !strings.Contains(all, "pod/done-") || !strings.Contains(all, "pod/"+running) {
		t.Fatalf("get pods: %q, want done's pod and %s", all, running)
	}
	if out := c.MustCLI("get", "pods", "--field-selector", "status.phase!=Succeeded,status.phase!=Failed", "-o", "name"); out != "pod/"+running+"\n" {
		t.Errorf("get pods of no final phase: %q, want only %s", out, running)
	}
	if out := c.MustCLI("get", "pods", "--field-selector", "spec.nodeName="+node+",status.phase!=Succeeded,status.phase!=Failed", "-o", "name"); out != "pod/"+running+"\n" {
		t.Errorf("get pods of node %s of no final phase: %q, want only %s", node, out, running)
	}
	if out := c.MustCLI("get", "pods", "--field-selector", "spec.nodeName=elsewhere,status.phase!=Succeeded,status.phase!=Failed", "-o", "name"); out != "" {
		t.Errorf("get pods of another node of no final phase: %q, want none", out)
	}

	described := c.MustCLI("describe", "node", node)
	if !strings.Contains(described, "Non-terminated Pods:  (1 in total)") || !strings.Contains(described, running) || strings.Contains(described, "done-") {
		t.Errorf("describe node %s does not list %s alone among its non-terminated pods:\n%s", node, running, described)
	}
	k := newKubectl(t, c.Servers[0].HTTPAddr)
	out := k.must("describe", "node", node)
	if !strings.Contains(out, "Non-terminated Pods:") || !strings.Contains(out, "(1 in total)") || !strings.Contains(out, running) || strings.Contains(out, "done-") {
		t.Errorf("kubectl describe node %s does not list %s alone among its non-terminated pods:\n%s", node, running, out)
	}
}
