package test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// devAddrs are the loopback addresses `jobcluster dev` listens on.
var devAddrs = []string{"127.0.0.1:7400", "127.0.0.1:7401", "127.0.0.1:7402", "127.0.0.1:7410", "127.0.0.1:7411", "127.0.0.1:7480"}

// quickStartLines returns the commands of the README's quick start: the
// lines of its sh block without their comments.
func quickStartLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	begin := strings.Index(text, "<!-- quickstart:begin -->")
	end := strings.Index(text, "<!-- quickstart:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README.md has no <!-- quickstart:begin --> ... <!-- quickstart:end --> section")
	}
	var lines []string
	inBlock := false
	for _, line := range strings.Split(text[begin:end], "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			inBlock = !inBlock && trimmed == "```sh"
		case inBlock:
			// A comment after the command explains it to the reader.
			if i := strings.Index(trimmed, "#"); i == 0 || i > 0 && trimmed[i-1] == ' ' {
				trimmed = strings.TrimSpace(trimmed[:i])
			}
			if trimmed != "" {
				lines = append(lines, trimmed)
			}
		}
	}
	return lines
}

// quickStartRoot makes a directory laid out like the repository root for
// the quick start: bin/jobcluster is the binary under test, and examples/
// holds the real examples with their two-minute sleeps made short.
func quickStartRoot(t *testing.T, binary string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, filepath.Dir(binary)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testcluster.Binary(t), filepath.Join(root, binary)); err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(root, "examples"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, src := range examples {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		short := strings.ReplaceAll(string(b), "sleep 120", "sleep 1")
		if err := os.WriteFile(filepath.Join(root, "examples", filepath.Base(src)), []byte(short), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

var (
	// buildLine matches the quick start's build step, which the test
	// replaces with the binary under test.
	buildLine = regexp.MustCompile(`^(make build|go build -o (\S+) \./cmd/jobcluster)\b`)
	// batchJobPod finds the example's pod in a `get pods` table.
	batchJobPod = regexp.MustCompile(`(?m)^batch-job-\S+`)
)

// TestQuickStart runs the README's quick start as a user would type it,
// with the binary under test in bin/ and the example's sleep shortened.
func TestQuickStart(t *testing.T) {
	lines := quickStartLines(t)
	script := strings.Join(lines, "\n")
	for _, want := range []string{"dev &", "submit examples/batch-job.yaml", "get jobs", "get pods", "logs <pod>"} {
		if !strings.Contains(script, want) {
			t.Fatalf("README quick start has no line with %q:\n%s", want, script)
		}
	}
	wait.Within(t, 20*time.Second, "the addresses of `jobcluster dev` to be free", func() (bool, string) {
		for _, addr := range devAddrs {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return false, fmt.Sprintf("%s is taken (a `jobcluster dev` running?): %v", addr, err)
			}
			l.Close()
		}
		return true, ""
	})

	binary := "bin/jobcluster"
	root := quickStartRoot(t, binary)
	tmp := t.TempDir()
	env := []string{"TMPDIR=" + tmp}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "JOBCLUSTER_ADDR=") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	run := func(line string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", line)
		cmd.Dir, cmd.Env = root, env
		cmd.WaitDelay = 5 * time.Second
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	mustRun := func(line string) string {
		t.Helper()
		out, err := run(line)
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		t.Logf("$ %s\n%s", line, out)
		return out
	}

	pod := ""
	for _, line := range lines {
		switch {
		case buildLine.MatchString(line):
			if m := buildLine.FindStringSubmatch(line); m[2] != "" && m[2] != binary {
				t.Fatalf("%s: builds %s, but the test puts the binary at %s", line, m[2], binary)
			}
		case strings.HasSuffix(line, "&"):
			startDev(t, root, tmp, env, strings.TrimSpace(strings.TrimSuffix(line, "&")))
		case strings.Contains(line, " submit "):
			if out := mustRun(line); !strings.Contains(out, "job.batch/batch-job created") {
				t.Fatalf("%s printed %q, want job.batch/batch-job created", line, out)
			}
		case strings.Contains(line, " get jobs"):
			// What the user does: run it again until the Job is done.
			wait.Within(t, 30*time.Second, "`"+line+"` to show batch-job complete", func() (bool, string) {
				out, err := run(line)
				if err != nil {
					return false, fmt.Sprintf("%v: %s", err, out)
				}
				row, _ := testcluster.TableRow(out, "batch-job")
				return row["STATUS"] == "Complete" && row["COMPLETIONS"] == "1/1", out
			})
			t.Logf("$ %s\n(until it showed batch-job Complete 1/1)", line)
		case strings.Contains(line, " get pods"):
			out := mustRun(line)
			name := batchJobPod.FindString(out)
			if name == "" {
				t.Fatalf("%s printed no batch-job pod:\n%s", line, out)
			}
			row := tableRow(t, out, name)
			if got := row["STATUS"]; got != "Completed" {
				t.Errorf("%s: STATUS of %s = %q, want Completed", line, name, got)
			}
			if node, wide := row["NODE"]; wide && node != "dev" {
				t.Errorf("%s: NODE of %s = %q, want dev", line, name, node)
			}
			pod = name
		case strings.Contains(line, "<pod>"):
			if pod == "" {
				t.Fatalf("%s: no earlier `get pods` line named the pod", line)
			}
			out := mustRun(strings.ReplaceAll(line, "<pod>", pod))
			for _, want := range []string{"Batch job starting", "Finished succesfully"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s printed %q, want a line %q", line, out, want)
				}
			}
		default:
			mustRun(line)
		}
	}
}

// startDev starts a background line of the quick start and stops it with
// SIGTERM, as `kill %1` would, when the test ends; the temporary data it
// kept under tmp must be gone then.
func startDev(t *testing.T, root, tmp string, env []string, line string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir, cmd.Env = root, env
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		// The whole job gets the signal, as from `kill %1`. The shell may
		// die of it; done comes once the last process holding its output
		// (the dev cluster) has exited.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil && cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
				t.Errorf("%s ended with %v after SIGTERM", line, err)
			}
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			t.Errorf("%s did not stop within 15s of SIGTERM", line)
		}
		if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
			t.Errorf("%s left %v behind after SIGTERM", line, left)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", line, out.String())
		}
	})
	wait.Within(t, 15*time.Second, line+" to listen on "+devAddrs[0], func() (bool, string) {
		select {
		case err := <-done:
			done <- err
			return false, fmt.Sprintf("exited: %v", err)
		default:
		}
		conn, err := net.DialTimeout("tcp", devAddrs[0], time.Second)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})
}
