package docker

import (
	"context"
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
	os.Exit(code)
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
	p, _ := start(t, r, &api.Container{Name: "main", Image: testImage})
	done := make(chan int, 1)
	go func() { code, _ := p.Wait(); done <- code }()
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
	if err == nil || !strings.HasPrefix(err.Error(), "ErrImagePull") {
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
