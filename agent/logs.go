package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
)

const (
	logSuffix         = ".log"
	previousLogSuffix = ".previous.log"
	logChunkSize      = 32 << 10
	logPollInterval   = 50 * time.Millisecond
)

func logPath(podDir, container string, previous bool) string {
	if previous {
		return filepath.Join(podDir, container+previousLogSuffix)
	}
	return filepath.Join(podDir, container+logSuffix)
}

// openContainerLog opens a fresh log for a run of a container. On a
// restart in place the log of the run before is kept as the previous log.
func openContainerLog(podDir, container string, restart bool) (*os.File, error) {
	path := logPath(podDir, container, false)
	if restart {
		err := os.Rename(path, logPath(podDir, container, true))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("keep previous log: %w", err)
		}
	}
	f, err := openFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return f, nil
}

// logService is the Agent gRPC service: it streams the logs of the pods
// of this node.
type logService struct {
	api.UnimplementedAgentServer
	sup  *supervisor
	poll time.Duration
}

func newLogService(sup *supervisor) *logService {
	return &logService{sup: sup, poll: logPollInterval}
}

// Logs streams the log of the pod's first container. With Follow it keeps
// streaming what the running process appends until the process has ended
// and everything it wrote was sent.
func (l *logService) Logs(req *api.LogsRequest, stream api.Agent_LogsServer) error {
	name := req.GetPod()
	notFound := status.Errorf(codes.NotFound, "pods %q not found", name)
	if !safeName(name) {
		return notFound
	}
	rec, runner := l.sup.lookup(name)
	dir := l.sup.journal.podDir(name)
	container, ok := logContainer(rec, dir)
	if !ok {
		return notFound
	}
	var rot *podRunner // rotates the log while it is read
	if runner != nil && !req.GetPrevious() {
		rot = runner
	}
	lf, err := openLogFollower(logPath(dir, container, req.GetPrevious()), container, rot, l.sup.logMax.files)
	switch {
	case errors.Is(err, fs.ErrNotExist) && req.GetPrevious():
		return status.Errorf(codes.NotFound, "previous terminated container %q in pod %q not found", container, name)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return status.Errorf(codes.Internal, "open log of pod %q: %v", name, err)
	}
	defer lf.Close()
	if n := req.TailLines; n != nil {
		// Start at the last n lines (of the last 16 MiB at most).
		data, size, err := readTail(lf.path, 16<<20, int(max(*n, 0)))
		if err != nil {
			return status.Errorf(codes.Internal, "read log of pod %q: %v", name, err)
		}
		if *n == 0 {
			data = nil
		}
		if len(data) > 0 {
			if err := stream.Send(&api.LogChunk{Data: data}); err != nil {
				return err
			}
		}
		if _, err := lf.f.Seek(size, io.SeekStart); err != nil {
			return status.Errorf(codes.Internal, "read log of pod %q: %v", name, err)
		}
	}

	follow := req.GetFollow() && !req.GetPrevious() && runner != nil
	buf := make([]byte, logChunkSize)
	var tick *time.Ticker
	for {
		// Look before reading: once the process is seen ended, a read
		// that finds the end of the file has everything it wrote.
		alive := follow && runner.containerAlive(container)
		n, err := lf.Read(buf)
		if n > 0 {
			if err := stream.Send(&api.LogChunk{Data: append([]byte(nil), buf[:n]...)}); err != nil {
				return err
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return status.Errorf(codes.Internal, "read log of pod %q: %v", name, err)
		}
		if !alive {
			return nil
		}
		if tick == nil {
			tick = time.NewTicker(l.poll)
			defer tick.Stop()
		}
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-tick.C:
		}
	}
}

// logFollower reads a container's log while the pod runner rotates it.
// A rotation copies the file to path.1 (older ones shift to path.2 and
// on) and truncates it in place, under the runner's logMu, and counts
// itself. So what the reader had not yet read when a rotation came is at
// the end of path.1 from the offset the reader had reached, or, after k
// rotations, at the end of path.k, followed by path.k-1 … path.1 whole:
// the reader takes those, then the live file from its start.
type logFollower struct {
	path      string
	container string
	f         *os.File
	runner    *podRunner // nil when nothing rotates the file
	maxFiles  int
	seen      int        // the runner's rotations accounted for
	backlog   []*os.File // rotated files still to read, oldest first
}

func openLogFollower(path, container string, runner *podRunner, maxFiles int) (*logFollower, error) {
	l := &logFollower{path: path, container: container, runner: runner, maxFiles: maxFiles}
	if runner != nil {
		runner.logMu.Lock()
		defer runner.logMu.Unlock()
		l.seen = runner.rotations[container]
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	l.f = f
	return l, nil
}

// Read reads the log on from where the last read ended, across rotations.
// At the end of what was written so far it returns io.EOF.
func (l *logFollower) Read(buf []byte) (int, error) {
	for {
		for len(l.backlog) > 0 {
			n, err := l.backlog[0].Read(buf)
			if n > 0 {
				return n, nil
			}
			l.backlog[0].Close()
			l.backlog = l.backlog[1:]
			if err != nil && !errors.Is(err, io.EOF) {
				return 0, err
			}
		}
		if l.runner == nil {
			return l.f.Read(buf)
		}
		l.runner.logMu.Lock()
		rotations := l.runner.rotations[l.container]
		if rotations == l.seen {
			n, err := l.f.Read(buf)
			l.runner.logMu.Unlock()
			return n, err
		}
		err := l.takeRotated(rotations - l.seen)
		l.seen = rotations
		l.runner.logMu.Unlock()
		if err != nil {
			return 0, err
		}
	}
}

// takeRotated queues the rotated files that hold what the reader has not
// read after n rotations, and rewinds the live file. Files already dropped
// (more rotations than are kept) are gone.
func (l *logFollower) takeRotated(n int) error {
	off, err := l.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	for k := min(n, l.maxFiles-1); k >= 1; k-- {
		rf, err := os.Open(rotatedPath(l.path, k))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if k == n {
			if _, err := rf.Seek(off, io.SeekStart); err != nil {
				rf.Close()
				return err
			}
		}
		l.backlog = append(l.backlog, rf)
	}
	_, err = l.f.Seek(0, io.SeekStart)
	return err
}

func (l *logFollower) Close() error {
	for _, f := range l.backlog {
		f.Close()
	}
	return l.f.Close()
}

// logContainer picks the container whose log is streamed: the pod's first
// one when the pod is known, else the first log in its directory.
func logContainer(rec *podRecord, dir string) (string, bool) {
	if rec != nil {
		rec.mu.Lock()
		containers := rec.pod.GetSpec().GetContainers()
		rec.mu.Unlock()
		if len(containers) > 0 {
			return containers[0].GetName(), true
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", false
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, logSuffix) && !strings.HasSuffix(n, previousLogSuffix) {
			names = append(names, strings.TrimSuffix(n, logSuffix))
		}
	}
	if len(names) == 0 {
		return "", false
	}
	sort.Strings(names)
	return names[0], true
}
