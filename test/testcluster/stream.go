package testcluster

import (
	"bytes"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Stream is a client command left running while the test goes on, such as
// `logs -f`. It is killed when the test ends if it is still running.
type Stream struct {
	cmd  *exec.Cmd
	out  lockedBuffer
	errb lockedBuffer
	done chan struct{}
	err  error
}

// StartCLI starts the jobcluster client against the cluster's servers
// without waiting for it to exit.
func (c *Cluster) StartCLI(args ...string) *Stream {
	c.t.Helper()
	s := &Stream{done: make(chan struct{})}
	s.cmd = exec.Command(binPath, append(append([]string{"--addr", c.Addrs()}, c.clientArgs...), args...)...)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.errb
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		c.t.Fatalf("start jobcluster %v: %v", args, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	c.t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	return s
}

// Stdout returns what the command printed so far.
func (s *Stream) Stdout() string { return s.out.String() }

// Stderr returns what the command printed to stderr so far.
func (s *Stream) Stderr() string { return s.errb.String() }

// Exited reports whether the command has exited.
func (s *Stream) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the command to exit and returns its error
// (nil for exit status 0).
func (s *Stream) Wait(timeout time.Duration) error {
	select {
	case <-s.done:
		return s.err
	case <-time.After(timeout):
		return fmt.Errorf("still running after %s; stdout so far: %q", timeout, s.Stdout())
	}
}

// lockedBuffer is a bytes.Buffer that the command writes while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
