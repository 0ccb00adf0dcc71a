package agent

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"golang.org/x/sys/unix"
)

func pathEnv() []string { return []string{"PATH=" + os.Getenv("PATH")} }

func startProcess(t *testing.T, argv ...string) Process {
	t.Helper()
	p, err := NewProcessRuntime().Start(context.Background(), ProcessSpec{Command: argv, Env: pathEnv(), Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	t.Cleanup(func() { _ = unix.Kill(-p.PID(), unix.SIGKILL) })
	return p
}

func TestProcessRuntimeExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		argv   []string
		signal syscall.Signal
		want   int
	}{
		{name: "exit zero", argv: []string{"true"}, want: 0},
		{name: "exit three", argv: []string{"sh", "-c", "exit 3"}, want: 3},
		{name: "ended by SIGTERM shows 143", argv: []string{"sleep", "30"}, signal: syscall.SIGTERM, want: 143},
		{name: "ended by SIGKILL shows 137", argv: []string{"sleep", "30"}, signal: syscall.SIGKILL, want: 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProcess(t, tt.argv...)
			if tt.signal != 0 {
				if err := p.Signal(tt.signal); err != nil {
					t.Fatal(err)
				}
			}
			got, err := p.Wait()
			if err != nil || got != tt.want {
				t.Errorf("Wait() = %d, %v; want %d, nil", got, err, tt.want)
			}
		})
	}
}

func TestProcessRuntimeProcessGroup(t *testing.T) {
	tests := []struct {
		name   string
		script string
		signal syscall.Signal
	}{
		{name: "a signal reaches every process of the group", script: "sleep 30 & sleep 30 & wait", signal: syscall.SIGKILL},
		{name: "background children die with the main process", script: "sleep 30 & exit 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProcess(t, "sh", "-c", tt.script)
			if tt.signal != 0 {
				wait.For(t, "children started", func() (bool, string) {
					return countGroup(p.PID()) >= 3, fmt.Sprintf("%d processes in the group", countGroup(p.PID()))
				})
				if err := p.Signal(tt.signal); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := p.Wait(); err != nil {
				t.Fatal(err)
			}
			waitGroupGone(t, p.PID())
			if err := p.Signal(syscall.SIGKILL); err != nil {
				t.Errorf("Signal after Wait = %v, want nil", err)
			}
		})
	}
}

// countGroup counts the live processes of a process group.
func countGroup(pgid int) int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		if pgrp, _, err := procStat(pid); err == nil && pgrp == pgid {
			n++
		}
	}
	return n
}

func TestProcessRuntimeStart(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "hello"), []byte("#!/bin/sh\necho hello from $0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		spec    ProcessSpec
		wantErr string
		wantOut string
	}{
		{name: "command found in the PATH of the spec", spec: ProcessSpec{Command: []string{"hello"}, Env: []string{"PATH=" + bin}}, wantOut: "hello from " + filepath.Join(bin, "hello") + "\n"},
		{name: "unknown command", spec: ProcessSpec{Command: []string{"no-such-command-xyz"}, Env: pathEnv()}, wantErr: `executable file "no-such-command-xyz" not found in $PATH`},
		{name: "no command", spec: ProcessSpec{}, wantErr: "container has no command"},
		// One null device serves every run: a run must not close it
		// for the next.
		{name: "stdin is the null device", spec: ProcessSpec{Command: []string{"sh", "-c", "readlink /proc/self/fd/0; cat; echo end"}, Env: pathEnv()}, wantOut: "/dev/null\nend\n"},
		{name: "stdin is the null device again", spec: ProcessSpec{Command: []string{"sh", "-c", "readlink /proc/self/fd/0; cat; echo end"}, Env: pathEnv()}, wantOut: "/dev/null\nend\n"},
		{name: "missing working directory", spec: ProcessSpec{Command: []string{"true"}, Env: pathEnv(), Dir: filepath.Join(bin, "missing")}, wantErr: "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := os.Create(filepath.Join(t.TempDir(), "out.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			tt.spec.Stdout = out
			p, err := NewProcessRuntime().Start(context.Background(), tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Start error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if code, err := p.Wait(); code != 0 || err != nil {
				t.Fatalf("Wait() = %d, %v", code, err)
			}
			got, _ := os.ReadFile(out.Name())
			if string(got) != tt.wantOut {
				t.Errorf("output %q, want %q", got, tt.wantOut)
			}
		})
	}
}

func TestKillOrphan(t *testing.T) {
	t.Run("group whose leader still runs", func(t *testing.T) {
		p := startProcess(t, "sh", "-c", "sleep 30 & wait")
		if err := NewProcessRuntime().KillOrphan(p.ID()); err != nil {
			t.Fatal(err)
		}
		waitGroupGone(t, p.PID())
	})
	t.Run("group left behind by its dead leader", func(t *testing.T) {
		// The leader exits and is reaped, as after the parent-death
		// signal; the background sleep stays in its group.
		cmd := exec.Command("sh", "-c", "sleep 30 & exit 0")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pgid := cmd.Process.Pid
		t.Cleanup(func() { _ = unix.Kill(-pgid, unix.SIGKILL) })
		id := processID(pgid)
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		if !groupAlive(pgid) {
			t.Fatal("background sleep is gone before the test could start")
		}
		if err := NewProcessRuntime().KillOrphan(id); err != nil {
			t.Fatal(err)
		}
		waitGroupGone(t, pgid)
	})
	t.Run("process recorded before a reboot is left alone", func(t *testing.T) {
		p := startProcess(t, "sleep", "30")
		pid, _, start, _, err := parseProcessID(p.ID())
		if err != nil {
			t.Fatal(err)
		}
		if err := NewProcessRuntime().KillOrphan(fmt.Sprintf("%d/other-boot/%d", pid, start)); err != nil {
			t.Fatal(err)
		}
		if !groupAlive(pid) {
			t.Error("process of this boot was killed for a record of another boot")
		}
	})
}

// TestHelperAgentProcess is the agent process of TestPodProcessesDieWithAgent.
func TestHelperAgentProcess(t *testing.T) {
	if os.Getenv("AGENT_TEST_HELPER") != "1" {
		t.Skip("helper process")
	}
	type started struct {
		p   Process
		tid int
	}
	ch := make(chan started)
	var s started
	for s.p == nil {
		go func() {
			// This goroutine's thread ends with it, which must not kill
			// the process it asked for. The main thread never ends, so
			// try again on another one.
			runtime.LockOSThread()
			if unix.Gettid() == os.Getpid() {
				runtime.UnlockOSThread()
				ch <- started{}
				return
			}
			p, err := NewProcessRuntime().Start(context.Background(), ProcessSpec{Command: []string{"sleep", "30"}, Env: pathEnv()})
			if err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			ch <- started{p, unix.Gettid()}
		}()
		s = <-ch
	}
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", s.tid)); os.IsNotExist(err) {
			break
		}
		runtime.Gosched()
	}
	fmt.Printf("pid %d\n", s.p.PID())
	// The test kills this process; should the test die first, it ends
	// by itself.
	time.Sleep(20 * time.Second)
}

func TestPodProcessesDieWithAgent(t *testing.T) {
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperAgentProcess$")
	helper.Env = append(os.Environ(), "AGENT_TEST_HELPER=1")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = helper.Process.Kill()
		_ = helper.Wait()
	})
	// A helper that never answers is ended, so the test fails below.
	watchdog := time.AfterFunc(10*time.Second, func() { _ = helper.Process.Kill() })
	defer watchdog.Stop()
	var pid int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "pid %d", &pid); err == nil {
			break
		}
		t.Log(sc.Text())
	}
	if pid == 0 {
		t.Fatal("helper did not start a process")
	}
	t.Cleanup(func() { _ = unix.Kill(-pid, unix.SIGKILL) })
	if status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); !alive(string(status)) {
		t.Fatalf("pod process died when the thread that asked for it ended:\n%s", status)
	}
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitGroupGone(t, pid)
}

// alive reads /proc/<pid>/status: running, and no SIGKILL pending.
func alive(status string) bool {
	if status == "" {
		return false
	}
	for _, line := range strings.Split(status, "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "State":
			if strings.HasPrefix(v, "Z") || strings.HasPrefix(v, "X") {
				return false
			}
		case "SigPnd", "ShdPnd":
			var mask uint64
			if _, err := fmt.Sscanf(v, "%x", &mask); err == nil && mask&(1<<(unix.SIGKILL-1)) != 0 {
				return false
			}
		}
	}
	return true
}
