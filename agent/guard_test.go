package agent

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
	if err := RunGuard(in); err != nil {
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
