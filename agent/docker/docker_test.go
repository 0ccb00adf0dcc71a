package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/agent"
	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
	"google.golang.org/protobuf/proto"
)

var (
	buildOnce  sync.Once
	buildErr   error
	testImage  = fmt.Sprintf("jobcluster-test/batch-job:t%d", os.Getpid())
	testLabels = map[string]string{LabelPod: "test-pod", agent.LabelUID: fmt.Sprintf("uid-%d", os.Getpid())}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildErr == nil {
		buildOnce.Do(func() {}) // nothing built yet means nothing to remove
		_ = exec.Command("docker", "rmi", "-f", testImage).Run()
	}
	if shellBuilt {
		_ = exec.Command("docker", "rmi", "-f", shellImage).Run()
	}
	os.Exit(code)
}

var (
	shellOnce  sync.Once
	shellBuilt bool
	shellImage = fmt.Sprintf("jobcluster-test/busybox:t%d", os.Getpid())
)

// withShell builds, once, an image FROM scratch holding the static
// busybox of Debian's busybox-static as /bin/sh, and returns its name.
func withShell(t *testing.T) string {
	t.Helper()
	var err error
	shellOnce.Do(func() {
		dir := t.TempDir()
		bb, rerr := os.ReadFile("/bin/busybox")
		if rerr != nil {
			err = fmt.Errorf("the shell image needs Debian's busybox-static: %w", rerr)
			return
		}
		if err = os.WriteFile(filepath.Join(dir, "busybox"), bb, 0o755); err != nil {
			return
		}
		df := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
		if err = os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			return
		}
		out, berr := exec.Command("docker", "build", "-q", "-t", shellImage, dir).CombinedOutput()
		if berr != nil {
			err = fmt.Errorf("docker build: %v\n%s", berr, out)
			return
		}
		shellBuilt = true
	})
	if err != nil {
		t.Fatal(err)
	}
	if !shellBuilt {
		t.Fatal("the shell image was not built")
	}
	return shellImage
}

// shellRun runs script in the shell image with spec's other fields and
// returns the exit code, the output and the process.
func shellRun(t *testing.T, r *Runtime, c *api.Container, spec agent.ProcessSpec, script string) (int, string, agent.Process) {
	t.Helper()
	c.Name, c.Image, c.Command = "main", withShell(t), []string{"/bin/sh", "-c", script}
	log := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spec.Container, spec.Stdout, spec.Labels = c, f, testLabels
	p, err := r.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.KillOrphan(p.ID()) })
	code, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(log)
	return code, string(out), p
}

func TestUserGroupsAndVolumes(t *testing.T) {
	r := newRuntime(t)
	scratch := t.TempDir()
	if err := os.Chmod(scratch, 0o777); err != nil {
		t.Fatal(err)
	}
	c := &api.Container{
		SecurityContext: &api.SecurityContext{RunAsUser: proto.Int64(1234), RunAsGroup: proto.Int64(2345), RunAsNonRoot: proto.Bool(true)},
		VolumeMounts:    []*api.VolumeMount{{Name: "scratch", MountPath: "/data"}, {Name: "scratch", MountPath: "/ro", ReadOnly: true}},
	}
	spec := agent.ProcessSpec{SupplementalGroups: []int64{3456}, Volumes: []agent.Volume{{Name: "scratch", Path: scratch}}}
	if _, err := r.PullImage(context.Background(), agent.ProcessSpec{Container: &api.Container{Image: withShell(t), SecurityContext: c.SecurityContext}}); err != nil {
		t.Fatalf("runAsNonRoot with runAsUser 1234 refused: %v", err)
	}
	code, out, _ := shellRun(t, r, c, spec, `id -u; id -g; id -G; echo hi > /data/f; { echo no > /ro/g; } 2>/dev/null || echo read-only`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	lines := strings.Fields(out)
	if len(lines) < 4 || lines[0] != "1234" || lines[1] != "2345" || !strings.Contains(out, "3456") || !strings.Contains(out, "read-only") {
		t.Errorf("output %q, want uid 1234, gid 2345, group 3456 among the groups and a read-only mount", out)
	}
	if b, err := os.ReadFile(filepath.Join(scratch, "f")); err != nil || string(b) != "hi\n" {
		t.Errorf("file written to the mounted volume: %q, %v", b, err)
	}
}

func TestRunAsNonRootRefusesARootImage(t *testing.T) {
	r := newRuntime(t)
	c := &api.Container{Name: "main", Image: testImage, SecurityContext: &api.SecurityContext{RunAsNonRoot: proto.Bool(true)}}
	_, err := r.PullImage(context.Background(), agent.ProcessSpec{Container: c, Labels: map[string]string{agent.LabelPod: "p"}})
	const want = `CreateContainerConfigError: container has runAsNonRoot and image will run as root (pod: "p", container: main)`
	if !errors.Is(err, agent.ErrCreateContainerConfig) || err.Error() != want {
		t.Errorf("PullImage = %v, want %s", err, want)
	}
}

func TestPrivilegedAndHostPathNeedTheAgentsConsent(t *testing.T) {
	r := newRuntime(t)
	host := t.TempDir()
	priv := &api.Container{Name: "main", Image: withShell(t), Command: []string{"true"}, SecurityContext: &api.SecurityContext{Privileged: proto.Bool(true)}}
	if _, err := r.Start(context.Background(), agent.ProcessSpec{Container: priv, Labels: testLabels}); err == nil || !strings.Contains(err.Error(), "--allow-privileged") {
		t.Errorf("privileged container: %v, want a refusal naming --allow-privileged", err)
	}
	mount := &api.Container{Name: "main", Image: withShell(t), Command: []string{"true"}, VolumeMounts: []*api.VolumeMount{{Name: "h", MountPath: "/h"}}}
	vols := []agent.Volume{{Name: "h", Path: host, HostPath: true}}
	if _, err := r.Start(context.Background(), agent.ProcessSpec{Container: mount, Labels: testLabels, Volumes: vols}); err == nil || !strings.Contains(err.Error(), "--allow-host-path") {
		t.Errorf("hostPath mount: %v, want a refusal naming --allow-host-path", err)
	}
	r.AllowHostPath = true
	if code, out, _ := shellRun(t, r, &api.Container{VolumeMounts: mount.VolumeMounts}, agent.ProcessSpec{Volumes: vols}, "echo x > /h/y"); code != 0 {
		t.Errorf("hostPath allowed: exit %d: %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(host, "y")); err != nil {
		t.Errorf("the allowed hostPath mount wrote nothing to the host: %v", err)
	}
}

func TestMemoryLimitEndsOOMKilled(t *testing.T) {
	r := newRuntime(t)
	c := &api.Container{Resources: &api.ResourceRequirements{Limits: map[string]string{"memory": "16Mi"}}}
	code, out, p := shellRun(t, r, c, agent.ProcessSpec{}, `x=aaaaaaaaaaaaaaaa; while :; do x="$x$x"; done`)
	oom, ok := p.(interface{ OOMKilled() bool })
	if code != 137 || !ok || !oom.OOMKilled() {
		t.Errorf("memory hog ended %d (OOMKilled %v), want 137 and OOMKilled; output %q", code, ok && oom.OOMKilled(), out)
	}
}

// newRuntime connects to the engine, skipping without one unless CI=true.
func newRuntime(t *testing.T) *Runtime {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := New(ctx, "test-node", nil)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker engine required under CI=true: %v", err)
		}
		t.Skipf("no docker engine: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	buildOnce.Do(func() { buildErr = buildImage(t.TempDir()) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return r
}

// buildImage builds images/batch-job under a tag of this test run.
func buildImage(dir string) error {
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "batch-job"), "../../images/batch-job")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build batch-job: %v\n%s", err, out)
	}
	df, err := os.ReadFile("../../images/batch-job/Dockerfile")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", testImage, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("docker build: %v\n%s", err, out)
	}
	return nil
}

func start(t *testing.T, r *Runtime, c *api.Container, env ...string) (agent.Process, string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := r.Start(context.Background(), agent.ProcessSpec{Env: env, Stdout: f, Container: c, Labels: testLabels})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.KillOrphan(p.ID()) })
	return p, log
}

func TestBookImageRunsToCompletionWithItsLog(t *testing.T) {
	r := newRuntime(t)
	p, log := start(t, r, &api.Container{Name: "main", Image: testImage}, "BATCH_JOB_SLEEP=100ms")
	code, err := p.Wait()
	if err != nil || code != 0 {
		t.Fatalf("Wait = %d, %v; want 0", code, err)
	}
	out, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 4 || lines[1] != "Batch job starting" || lines[3] != "Finished succesfully" {
		t.Errorf("log = %q, want date, Batch job starting, date, Finished succesfully", out)
	}
}

func TestSIGTERMEndsTheContainer(t *testing.T) {
	r := newRuntime(t)
	p, log := start(t, r, &api.Container{Name: "main", Image: testImage})
	done := make(chan int, 1)
	go func() { code, _ := p.Wait(); done <- code }()
	// A signal that reaches PID 1 before Go's runtime has installed its
	// handlers is dropped by the kernel, as for any container's init: a
	// signal sent that early is kubelet's case too, and it ends in SIGKILL
	// after the grace period. Signal once the program has started.
	wait.Within(t, 10*time.Second, "program prints that it started", func() (bool, string) {
		out, _ := os.ReadFile(log)
		return strings.Contains(string(out), "Batch job starting"), fmt.Sprintf("log %q", out)
	})
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var code int
	wait.Within(t, 10*time.Second, "container ends on SIGTERM", func() (bool, string) {
		select {
		case code = <-done:
			return true, ""
		default:
			return false, "still running"
		}
	})
	// The image's program is PID 1, where the kernel ignores a signal's
	// default action: Go's runtime then exits 2, as it would under kubelet.
	if code == 0 {
		t.Errorf("exit code 0 after SIGTERM, want a failure")
	}
}

func TestMissingImageIsErrImagePull(t *testing.T) {
	r := newRuntime(t)
	_, err := r.Start(context.Background(), agent.ProcessSpec{Container: &api.Container{Name: "main", Image: "jobcluster-test/absent:none", ImagePullPolicy: api.PullIfNotPresent}})
	if !errors.Is(err, ErrImagePull) {
		t.Errorf("Start = %v, want ErrImagePull", err)
	}
}

func TestPullFailureRunsTheLocalImage(t *testing.T) {
	r := newRuntime(t)
	p, _ := start(t, r, &api.Container{Name: "main", Image: testImage, ImagePullPolicy: api.PullAlways}, "BATCH_JOB_SLEEP=1ms")
	if code, err := p.Wait(); err != nil || code != 0 {
		t.Errorf("Wait = %d, %v; want 0", code, err)
	}
}

func TestCommandReplacesEntrypoint(t *testing.T) {
	r := newRuntime(t)
	_, err := r.Start(context.Background(), agent.ProcessSpec{Container: &api.Container{Name: "main", Image: testImage, Command: []string{"/absent"}}, Labels: testLabels})
	if err == nil || !strings.Contains(err.Error(), `"/absent"`) {
		t.Errorf("Start = %v, want the engine refusing to run /absent instead of the image's ENTRYPOINT", err)
	}
}

// A container that ignores SIGTERM runs on until SIGKILL, which the agent
// sends once terminationGracePeriodSeconds has passed.
func TestSIGKILLEndsAContainerThatIgnoresSIGTERM(t *testing.T) {
	r := newRuntime(t)
	c := &api.Container{Name: "main", Image: withShell(t), Command: []string{"/bin/sh", "-c", `trap "" TERM; echo ready; while :; do sleep 1; done`}}
	log := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := r.Start(context.Background(), agent.ProcessSpec{Container: c, Stdout: f, Labels: testLabels})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.KillOrphan(p.ID()) })
	wait.Within(t, 10*time.Second, "the trap to be set", func() (bool, string) {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "ready"), string(b)
	})
	done := make(chan int, 1)
	go func() { code, _ := p.Wait(); done <- code }()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		t.Fatalf("the container ended (%d) on the SIGTERM it ignores", code)
	case <-time.After(time.Second):
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 137 {
			t.Errorf("exit code %d after SIGKILL, want 137", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the container still runs 10 s after SIGKILL")
	}
}
