package test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// devPortOffsets are the ports `jobcluster dev` binds, counted from
// --port-base (see its --help).
var devPortOffsets = []int{0, 1, 2, 10, 11, 80}

// freeDevPortBase finds a port base on 127.0.0.1 whose dev ports are all
// free now and none of them in taken; it adds them to taken.
func freeDevPortBase(t *testing.T, taken map[int]bool) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base+80 > 65535 || !devPortsFree(base, taken) {
			continue
		}
		for _, off := range devPortOffsets {
			taken[base+off] = true
		}
		return base
	}
	t.Fatal("no free port base for jobcluster dev")
	return 0
}

func devPortsFree(base int, taken map[int]bool) bool {
	for _, off := range devPortOffsets {
		if taken[base+off] {
			return false
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+off))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// devCluster is one `jobcluster dev` process.
type devCluster struct {
	rpcAddr, httpAddr string
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startDevCluster runs `jobcluster dev --port-base base` with its own
// TMPDIR until the test ends, then stops it with SIGTERM and checks that
// its temporary data is gone.
func startDevCluster(t *testing.T, base int) *devCluster {
	t.Helper()
	tmp := t.TempDir()
	d := &devCluster{
		rpcAddr:  "127.0.0.1:" + strconv.Itoa(base),
		httpAddr: "127.0.0.1:" + strconv.Itoa(base+80),
	}
	cmd := exec.Command(testcluster.Binary(t), "dev", "--port-base", strconv.Itoa(base))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start jobcluster dev: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("jobcluster dev --port-base %d ended with %v after SIGTERM", base, err)
			}
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			t.Errorf("jobcluster dev --port-base %d did not stop within 15s of SIGTERM", base)
		}
		if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
			t.Errorf("jobcluster dev --port-base %d left %v behind", base, left)
		}
		if t.Failed() {
			t.Logf("output of jobcluster dev --port-base %d:\n%s", base, out.String())
		}
	})
	want := "jobcluster dev: server at " + d.rpcAddr + " (HTTP at " + d.httpAddr + ")"
	wait.Within(t, 15*time.Second, "jobcluster dev --port-base "+strconv.Itoa(base)+" to start", func() (bool, string) {
		select {
		case err := <-done:
			done <- err
			return false, fmt.Sprintf("exited: %v\n%s", err, out.String())
		default:
		}
		return strings.Contains(out.String(), want), out.String()
	})
	return d
}

// cli runs a client command against the dev cluster.
func (d *devCluster) cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testcluster.Binary(t), append([]string{"--addr", d.rpcAddr}, args...)...)
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestTwoDevClustersSideBySide runs two `jobcluster dev` on different
// port bases and a Job to completion on each; each cluster knows only
// its own Job.
func TestTwoDevClustersSideBySide(t *testing.T) {
	taken := map[int]bool{}
	clusters := []*devCluster{
		startDevCluster(t, freeDevPortBase(t, taken)),
		startDevCluster(t, freeDevPortBase(t, taken)),
	}
	dir := t.TempDir()
	for i, d := range clusters {
		name := fmt.Sprintf("side-%d", i)
		file := filepath.Join(dir, name+".yaml")
		job := testcluster.ShellJob{Name: name, Script: "echo hello from " + name}
		if err := os.WriteFile(file, []byte(job.YAML()), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := d.cli(t, "submit", "--wait", file)
		if err != nil {
			t.Fatalf("submit --wait on %s: %v\n%s", d.rpcAddr, err, out)
		}
		if !strings.Contains(out, "job.batch/"+name+" Complete 1/1") {
			t.Errorf("submit --wait on %s printed %q, want job.batch/%s Complete 1/1", d.rpcAddr, out, name)
		}
	}
	for i, d := range clusters {
		out, err := d.cli(t, "get", "jobs", "-o", "name")
		if err != nil {
			t.Fatalf("get jobs on %s: %v\n%s", d.rpcAddr, err, out)
		}
		if want := fmt.Sprintf("job.batch/side-%d\n", i); out != want {
			t.Errorf("get jobs -o name on %s = %q, want %q", d.rpcAddr, out, want)
		}
		resp, err := http.Get("http://" + d.httpAddr + "/debug/pprof/")
		if err != nil {
			t.Fatalf("HTTP of the dev cluster at %s: %v", d.httpAddr, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET http://%s/debug/pprof/ = %d, want 200", d.httpAddr, resp.StatusCode)
		}
	}
}
