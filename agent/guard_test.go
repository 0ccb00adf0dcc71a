package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/internal/wait"
)

func TestGuardKillsListedGroupsWhenItsInputEnds(t *testing.T) {
	start := func() *exec.Cmd {
		cmd := exec.Command("sh", "-c", "sleep 30 & sleep 30 & wait")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
		return cmd
	}
	listed, ended := start(), start()
	in := strings.NewReader("+" + itoa(listed.Process.Pid) + "\n+" + itoa(ended.Process.Pid) + "\n-" + itoa(ended.Process.Pid) + "\n")
	if err := RunGuard(in, nil, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- listed.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("listed process group still runs after the guard's input ended")
	}
	if err := syscall.Kill(-ended.Process.Pid, 0); err != nil {
		t.Fatalf("group the agent said had ended was killed anyway: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Once the agent is gone and everything listed is killed, the guard tells
// the servers, naming the node and the agent's incarnation; when the
// agent stopped on purpose, or something could not be killed, it says
// nothing, and the servers wait for the lease.
func TestGuardTellsTheServersOnlyOnceEverythingIsKilled(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	cmd := exec.Command("sh", "-c", `sleep 30 & echo $! > "$1"; wait`, "pod", pidFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	var child int
	wait.For(t, "the pod's child started", func() (bool, string) {
		b, _ := os.ReadFile(pidFile)
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return child > 0, string(b)
	})
	// exited reads the state the kernel gives pid: gone, or a zombie.
	exited := func(pid int) bool {
		b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		return i+2 < len(s) && s[i+2] == 'Z'
	}
	var told []string
	notify := func(_ context.Context, servers []string, node, incarnation string) error {
		alive := !exited(cmd.Process.Pid) || !exited(child)
		told = append(told, fmt.Sprintf("%v %s %s pods alive=%v", servers, node, incarnation, alive))
		return nil
	}
	in := "+na1\n+iinc-1\n=s127.0.0.1:1\n=s127.0.0.1:2,127.0.0.1:3\n+" + itoa(cmd.Process.Pid) + "\n"
	if err := RunGuard(strings.NewReader(in), nil, notify); err != nil {
		t.Fatal(err)
	}
	want := []string{"[127.0.0.1:2 127.0.0.1:3] a1 inc-1 pods alive=false"}
	if diff := cmp.Diff(want, told); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}

	told = nil
	if err := RunGuard(strings.NewReader("+na1\n+iinc-1\n=s127.0.0.1:2\n+q\n"), nil, notify); err != nil {
		t.Fatal(err)
	}
	if len(told) != 0 {
		t.Errorf("guard of an agent stopping on purpose told the servers %v", told)
	}
	if err := RunGuard(strings.NewReader("+na1\n+iinc-1\n=s127.0.0.1:2\n+cabc\n"), nil, notify); err == nil {
		t.Fatal("a guard that could not remove a container reported no error")
	}
	if len(told) != 0 {
		t.Errorf("guard told the servers %v although a container could not be removed", told)
	}
}

func TestGuardCloseWaitsForTheGuardToExit(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "exited")
	// Like the real guard: it reads until end of input, then finishes its
	// work before exiting.
	g, err := startGuard([]string{"sh", "-c", `cat >/dev/null; sleep 0.2; touch "$1"`, "guard", marker})
	if err != nil {
		t.Fatal(err)
	}
	g.close()
	if g.cmd.ProcessState == nil {
		t.Fatal("close returned before the guard process was reaped")
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("close returned before the guard finished: %v", err)
	}
	g.close() // a second close is harmless
}

func TestGuardCloseKillsAGuardThatDoesNotExit(t *testing.T) {
	g, err := startGuard([]string{"sh", "-c", `cat >/dev/null; exec sleep 60`})
	if err != nil {
		t.Fatal(err)
	}
	g.exitTimeout = 100 * time.Millisecond
	g.close()
	if g.cmd.ProcessState == nil || g.cmd.ProcessState.Exited() {
		t.Fatalf("guard state after close = %v, want killed", g.cmd.ProcessState)
	}
}

func TestGuardRemovesListedContainersWhenItsInputEnds(t *testing.T) {
	in := strings.NewReader("+cabc\n+cdef\n-cdef\n+c\n")
	var removed []string
	if err := RunGuard(in, func(ids []string) error { removed = ids; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != "abc" {
		t.Errorf("guard removed %v, want [abc]: def ended and an empty ID names nothing", removed)
	}
	if err := RunGuard(strings.NewReader("+cabc\n"), nil, nil); err == nil {
		t.Error("a guard with containers to remove and no runtime to remove them reported no error")
	}
}

func TestGuardKillsListedCgroupsWhenItsInputEnds(t *testing.T) {
	r := cgroupRuntime(t, defaultCgroupRoot)
	listed, escaped := escapee(t, r, "sleep 300")
	ended, kept := escapee(t, r, "sleep 300")
	var in strings.Builder
	for _, dir := range listed.cg.paths {
		in.WriteString("+g" + dir + "\n")
	}
	for _, dir := range ended.cg.paths {
		in.WriteString("+g" + dir + "\n-g" + dir + "\n")
	}
	// A relative path names no cgroup and is ignored.
	in.WriteString("+gjobcluster\n")
	if err := RunGuard(strings.NewReader(in.String()), nil, nil); err != nil {
		t.Fatal(err)
	}
	if gone, why := processGone(escaped); !gone {
		t.Errorf("after the guard's input ended: %s, though its cgroup was listed", why)
	}
	for _, dir := range listed.cg.paths {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("listed cgroup %s still there: %v", dir, err)
		}
	}
	if gone, _ := processGone(kept); gone {
		t.Error("the guard killed a cgroup the agent said had ended")
	}
	if code, err := listed.Wait(); err != nil || code != 137 {
		t.Errorf("Wait() after the guard = %d, %v; want 137, nil", code, err)
	}
}

// TestGuardFencesAFrozenAgent keeps the guard's input open, as a frozen
// agent's is: while lease lines keep coming the listed group lives; once
// the lease they gave runs out with no newer one, the guard kills it and
// goes on reading.
func TestGuardFencesAFrozenAgent(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & sleep 30 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan string, 1)
	guardDone := make(chan error, 1)
	go func() { guardDone <- runGuard(r, nil, nil, func(msg string) { reports <- msg }) }()
	send := func(line string) {
		if _, err := w.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	send("+" + itoa(cmd.Process.Pid))
	// Renewed every 20 ms with a second left each time, for half a second.
	for range 25 {
		send("+l" + itoa(int(time.Second)))
		time.Sleep(20 * time.Millisecond)
		select {
		case <-exited:
			t.Fatal("the guard killed the group while the lease was being renewed")
		default:
		}
	}
	// The agent freezes: no more lines, the pipe stays open.
	frozeAt := time.Now()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the listed group still runs 5 s after the lease ran out")
	}
	if took := time.Since(frozeAt); took < 900*time.Millisecond {
		t.Errorf("killed %v after the last renewal, before the one-second lease ran out", took)
	}
	if msg := <-reports; !strings.Contains(msg, "lease ran out") {
		t.Errorf("guard reported %q", msg)
	}
	select {
	case err := <-guardDone:
		t.Fatalf("the guard stopped reading after fencing: %v", err)
	default:
	}
	w.Close()
	if err := <-guardDone; err != nil {
		t.Errorf("guard at end of input: %v", err)
	}
}

// A guard tells the servers only once its agent is gone: while the
// process that started it lives on, the end of its input proves nothing.
func TestAgentGoneOnlyOnceTheParentIs(t *testing.T) {
	if AgentGone(os.Getppid(), 50*time.Millisecond) {
		t.Error("AgentGone said the parent of this process is gone while it runs")
	}
	if !AgentGone(os.Getppid()+1, time.Second) {
		t.Error("AgentGone waited for a process that is not this one's parent")
	}
}
