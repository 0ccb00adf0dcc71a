package testcluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
)

// ProcessAlive reports whether a process with this PID exists and has not
// exited, the question `kill -0 PID` answers, except that a zombie (exited,
// not yet reaped by whoever adopted it) counts as gone.
func ProcessAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// contain spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return true
	}
	state := s[i+2]
	return state != 'Z' && state != 'X'
}

// ReadPIDs reads a file of whitespace-separated PIDs, written by a pod's
// command.
func ReadPIDs(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 1 {
			return nil, fmt.Errorf("%s: %q is not a PID", path, f)
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("%s holds no PID", path)
	}
	return pids, nil
}

// WaitProcessesGone waits until none of the PIDs is alive.
func WaitProcessesGone(t testing.TB, timeout time.Duration, what string, pids []int) {
	t.Helper()
	wait.Within(t, timeout, what, func() (bool, string) {
		var alive []string
		for _, pid := range pids {
			if ProcessAlive(pid) {
				alive = append(alive, fmt.Sprintf("%d (%s)", pid, cmdline(pid)))
			}
		}
		return len(alive) == 0, "still running: " + strings.Join(alive, ", ")
	})
}

func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
