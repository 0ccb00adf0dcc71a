package test

import (
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

const echoJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: echo
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo from $JOBCLUSTER_POD_NAME"]
`

// The same Job name runs in two namespaces side by side: -n picks one for
// every command, -A lists both with kubectl's NAMESPACE column, and a
// delete in one leaves the other.
func TestSameJobInTwoNamespaces(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 1})
	for _, ns := range []string{"team-a", "team-b"} {
		r := c.CLIAt(c.Addrs(), echoJob, "submit", "-n", ns, "-f", "-")
		if r.Err != nil || strings.TrimSpace(r.Stdout) != "job.batch/echo created" {
			t.Fatalf("submit -n %s: %v %q %q", ns, r.Err, r.Stdout, r.Stderr)
		}
	}
	for _, ns := range []string{"team-a", "team-b"} {
		wait.For(t, ns+"/echo to complete", func() (bool, string) {
			r := c.CLI("get", "jobs", "-n", ns)
			return strings.Contains(r.Stdout, "Complete"), r.Stdout + r.Stderr
		})
		if out := c.MustCLI("logs", "-n", ns, "job/echo"); !strings.HasPrefix(out, "from echo-") {
			t.Errorf("logs -n %s job/echo = %q", ns, out)
		}
	}
	out := c.MustCLI("get", "jobs", "-A")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAMESPACE") ||
		!strings.HasPrefix(lines[1], "team-a") || !strings.HasPrefix(lines[2], "team-b") {
		t.Errorf("get jobs -A:\n%s\nwant a NAMESPACE column and echo in team-a and team-b", out)
	}
	// kubectl's selectors and printers see the namespace too.
	if out := c.MustCLI("get", "pods", "-A", "--field-selector", "metadata.namespace=team-b,status.phase=Succeeded",
		"-o", "jsonpath={.items[*].metadata.namespace}"); out != "team-b" {
		t.Errorf("pods of team-b by field selector: %q", out)
	}
	if out := c.MustCLI("get", "jobs", "-n", "team-a", "-o", "custom-columns=NS:.metadata.namespace,NAME:.metadata.name,DONE:.status.succeeded"); out != "NS       NAME   DONE\nteam-a   echo   1\n" {
		t.Errorf("custom columns of team-a's jobs: %q", out)
	}
	if r := c.CLI("get", "jobs"); strings.TrimSpace(r.Stdout) != "" || strings.TrimSpace(r.Stderr) != "No resources found in default namespace." {
		t.Errorf("get jobs in default: %q %q", r.Stdout, r.Stderr)
	}
	var job struct {
		Metadata struct{ Namespace string } `json:"metadata"`
	}
	if err := c.GetJSON(&job, "job", "echo", "-n", "team-b"); err != nil || job.Metadata.Namespace != "team-b" {
		t.Errorf("get job echo -n team-b -o json: namespace %q, err %v", job.Metadata.Namespace, err)
	}
	if out := c.MustCLI("delete", "job", "echo", "-n", "team-a"); strings.TrimSpace(out) != `job.batch "echo" deleted` {
		t.Errorf("delete -n team-a: %q", out)
	}
	if r := c.CLI("get", "job", "echo", "-n", "team-a"); r.Err == nil || !strings.Contains(r.Stderr, `jobs.batch "echo" not found`) {
		t.Errorf("get team-a/echo after its delete: %q %q", r.Stdout, r.Stderr)
	}
	if r := c.CLI("get", "job", "echo", "-n", "team-b"); r.Err != nil {
		t.Errorf("team-b/echo is gone after deleting team-a/echo: %s", r.Stderr)
	}
}
