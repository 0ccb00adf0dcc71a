package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// requireDocker skips a test without a Docker engine, except under
// CI=true, where the engine is required.
func requireDocker(t *testing.T) { testcluster.RequireDocker(t) }

// docker runs the docker CLI, failing the test on an error.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// buildBatchJobImage builds images/batch-job, its sleep set to sleep, as
// the local image name (no registry is involved), removed when the test
// ends.
func buildBatchJobImage(t *testing.T, name, sleep string) {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -X main.defaultSleep="+sleep,
		"-o", filepath.Join(dir, "batch-job"), "../images/batch-job")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build batch-job: %v\n%s", err, out)
	}
	df, err := os.ReadFile("../images/batch-job/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		t.Fatal(err)
	}
	docker(t, "build", "-q", "-t", name, dir)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", name).Run() })
}

// nodeContainers lists the containers labelled with node: the running
// ones, or with all every one.
func nodeContainers(t *testing.T, node string, all bool) []string {
	t.Helper()
	args := []string{"ps", "-q", "--no-trunc", "--filter", "label=jobcluster.io/node=" + node}
	if all {
		args = append(args, "-a")
	}
	return strings.Fields(docker(t, args...))
}

// removeNodeContainers removes whatever containers of node a failed test
// left behind.
func removeNodeContainers(t *testing.T, node string) {
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=jobcluster.io/node="+node).Output()
	if err == nil && len(strings.Fields(string(out))) > 0 {
		_ = exec.Command("docker", append([]string{"rm", "-f"}, strings.Fields(string(out))...)...).Run()
	}
}

// imageJob is a Job of one container running image with no command, with
// env added to it.
func imageJob(name, image string, env ...string) string {
	var envYAML strings.Builder
	if len(env) > 0 {
		envYAML.WriteString("        env:\n")
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&envYAML, "        - name: %s\n          value: %q\n", k, v)
		}
	}
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
spec:
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: %s
%s`, name, image, envYAML.String())
}

// TestDockerRuntimeRunsTheBooksManifest runs the book's batch-job manifest,
// which has an image and no command, on a real Docker engine, and what
// goes with it: the warning while no agent runs containers, ErrImagePull
// and ImagePullBackOff until the image appears, the agent's containers
// removed when it is killed with SIGKILL, leftovers removed by the agent
// started again, and containers stopped by the agent's lease when it is
// cut off from the servers.
func TestDockerRuntimeRunsTheBooksManifest(t *testing.T) {
	requireDocker(t)
	suffix := fmt.Sprint(os.Getpid())
	node := "docker-" + suffix
	t.Cleanup(func() { removeNodeContainers(t, node) })
	// No tag: Kubernetes' policy pulls it Always, the pull fails (no
	// registry), and the agent runs the local copy as kubelet would not.
	image := "jobcluster-test-batch-job-" + suffix
	buildBatchJobImage(t, image, "1s")
	book, err := os.ReadFile("../examples/batch-job-image.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(book), "image: luksa/batch-job\n") || strings.Contains(string(book), "command") {
		t.Fatalf("examples/batch-job-image.yaml is no longer the book's manifest:\n%s", book)
	}
	manifest := strings.Replace(string(book), "luksa/batch-job", image, 1)

	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1})
	r := c.CLIAt(c.Addrs(), manifest, "submit", "-")
	if r.Err != nil {
		t.Fatalf("submit of the book's manifest: %v\n%s", r.Err, r.Stderr)
	}
	const warning = "Warning: job.batch/batch-job: no Ready node can run container images yet"
	if !strings.Contains(r.Stderr, warning) {
		t.Errorf("submit with no agent running containers printed %q, want a line starting %q", r.Stderr, warning)
	}
	wait.Within(t, 30*time.Second, "a FailedScheduling event in kube-scheduler's words", func() (bool, string) {
		out := c.CLI("get", "events").Stdout
		return strings.Contains(out, "0/1 nodes are available: 1 node(s) cannot run container images"), out
	})

	agent := c.AddAgent(node, "--runtime", "process,docker", "--restart-backoff", "1s")
	job := c.WaitJob("batch-job", 90*time.Second)
	if typ, _ := job.Finished(); typ != "Complete" {
		t.Fatalf("the book's Job ended %s, want Complete", typ)
	}
	pods, err := c.Pods("batch-job")
	if err != nil || len(pods) != 1 {
		t.Fatalf("pods of batch-job: %v, %v", pods, err)
	}
	if pods[0].Spec.NodeName != node {
		t.Errorf("the book's pod ran on %q, want the docker agent %q", pods[0].Spec.NodeName, node)
	}
	logs := c.MustCLI("logs", pods[0].Metadata.Name)
	if !strings.Contains(logs, "Batch job starting\n") || !strings.Contains(logs, "Finished succesfully\n") {
		t.Errorf("logs of the book's pod:\n%s\nwant its two lines", logs)
	}
	wait.Within(t, 10*time.Second, "a Warning event saying the node's copy of the image ran", func() (bool, string) {
		out := c.MustCLI("get", "events")
		return strings.Contains(out, "Warning") && strings.Contains(out, "running the copy present on the node"), out
	})
	if wide := c.MustCLI("get", "nodes", "-o", "wide"); !strings.Contains(wide, "docker://") {
		t.Errorf("get nodes -o wide shows no docker runtime version:\n%s", wide)
	}
	if left := nodeContainers(t, node, true); len(left) != 0 {
		t.Errorf("containers left after the pod ended: %v", left)
	}

	// An image that is not there: Pending, ErrImagePull, then
	// ImagePullBackOff, and it runs once the image appears.
	absent := "jobcluster-test-absent-" + suffix + ":v1"
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", absent).Run() })
	c.Submit(imageJob("late", absent))
	reasons := map[string]bool{}
	wait.Within(t, 30*time.Second, "the pod waiting in ImagePullBackOff after ErrImagePull", func() (bool, string) {
		pods, err := c.Pods("late")
		if err != nil || len(pods) != 1 || len(pods[0].Status.ContainerStatuses) != 1 {
			return false, fmt.Sprint(pods, err)
		}
		p := pods[0]
		if w := p.Status.ContainerStatuses[0].State.Waiting; w != nil {
			reasons[w.Reason] = true
			if p.Status.Phase != "Pending" {
				t.Errorf("pod waiting in %s is %s, want Pending", w.Reason, p.Status.Phase)
			}
		}
		return reasons["ErrImagePull"] && reasons["ImagePullBackOff"], fmt.Sprintf("%s %v", p.Status.Phase, reasons)
	})
	if events := c.MustCLI("get", "events"); !strings.Contains(events, `Failed to pull image "`+absent+`"`) || !strings.Contains(events, `Back-off pulling image "`+absent+`"`) {
		t.Errorf("events while the image is missing:\n%s\nwant kubelet's Failed and BackOff", events)
	}
	if j, _ := c.GetJob("late"); j.Status.Failed != 0 {
		t.Errorf("a pull failure counted as %d failed pods, want none", j.Status.Failed)
	}
	docker(t, "tag", image, absent)
	if typ, _ := c.WaitJob("late", 60*time.Second).Finished(); typ != "Complete" {
		t.Fatalf("Job late ended %s once its image appeared, want Complete", typ)
	}

	// kill -9 of the agent: its guard removes its containers.
	c.Submit(imageJob("long", image, "BATCH_JOB_SLEEP=1h"))
	wait.Within(t, 30*time.Second, "the long container running", func() (bool, string) {
		running := nodeContainers(t, node, false)
		return len(running) == 1, fmt.Sprint(running)
	})
	killed := time.Now()
	c.Kill(agent)
	wait.Within(t, 10*time.Second, "no container of the killed agent running", func() (bool, string) {
		running := nodeContainers(t, node, false)
		return len(running) == 0, fmt.Sprint(running)
	})
	t.Logf("the killed agent's container was gone %v after SIGKILL", time.Since(killed).Round(10*time.Millisecond))

	// A container labelled with the node that the agent does not know (an
	// earlier run left it) goes when the agent starts again.
	stray := docker(t, "run", "-d", "--label", "jobcluster.io/node="+node, "-e", "BATCH_JOB_SLEEP=1h", image)
	c.Start(agent)
	wait.Within(t, 30*time.Second, "the restarted agent to remove the stray container", func() (bool, string) {
		all := nodeContainers(t, node, true)
		for _, id := range all {
			if id == stray {
				return false, fmt.Sprint(all)
			}
		}
		return true, ""
	})

	// Cut off from every server, the agent stops its containers when its
	// lease runs out: the servers run the pod elsewhere by then.
	c.WaitNodeReady(node)
	wait.Within(t, 60*time.Second, "long's replacement container running", func() (bool, string) {
		running := nodeContainers(t, node, false)
		return len(running) == 1, fmt.Sprint(running)
	})
	c.Kill(c.Servers[0])
	wait.Within(t, 30*time.Second, "the cut-off agent to stop its container", func() (bool, string) {
		running := nodeContainers(t, node, false)
		return len(running) == 0, fmt.Sprint(running)
	})
}
