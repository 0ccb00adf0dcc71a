package agent

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// Defaults of what an agent ships of each container's log to the servers,
// which keep it for when the agent is gone: the last lines, bounded.
const (
	DefaultTailBytes    = 64 << 10
	DefaultTailLines    = 200
	DefaultShipInterval = 5 * time.Second
)

// tailPolicy is how much of a log to ship, and how often while it runs.
type tailPolicy struct {
	bytes, lines int
	interval     time.Duration
}

func (p tailPolicy) withDefaults() tailPolicy {
	if p.bytes <= 0 {
		p.bytes = DefaultTailBytes
	}
	if p.lines <= 0 {
		p.lines = DefaultTailLines
	}
	if p.interval <= 0 {
		p.interval = DefaultShipInterval
	}
	return p
}

// readTail reads the end of the file at path: at most maxBytes, then at
// most maxLines lines (a line cut by the byte bound is dropped). size is
// the file's whole size; a missing file is an empty tail.
func readTail(path string, maxBytes, maxLines int) (data []byte, size int64, err error) {
	f, err := openFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size = fi.Size()
	start := max(size-int64(maxBytes), 0)
	buf := make([]byte, size-start)
	if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
		return nil, size, err
	}
	if start > 0 {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	return lastLines(buf, maxLines), size, nil
}

// lastLines keeps the last n lines of b (a final line without newline
// counts).
func lastLines(b []byte, n int) []byte {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n--; n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// tails reads the log tails of the pod's containers whose logs grew since
// shipped says (by log path: the size shipped), and records what it ships.
// With all, every container's current and previous logs are read.
func (r *podRunner) tails(all bool) []*api.ContainerLogTail {
	p := r.sup.tail
	var out []*api.ContainerLogTail
	for _, c := range r.containers {
		for _, previous := range []bool{false, true} {
			if previous && c.restarts == 0 {
				continue
			}
			path := logPath(r.dir, c.spec.GetName(), previous)
			fi, err := os.Stat(path)
			if err != nil || (!all && fi.Size() == r.shipped[path]) {
				continue
			}
			data, size, err := readTail(path, p.bytes, p.lines)
			if err != nil {
				r.sup.logger.Debug("read log tail", "pod", r.name(), "container", c.spec.GetName(), "err", err)
				continue
			}
			if r.shipped == nil {
				r.shipped = map[string]int64{}
			}
			r.shipped[path] = size
			out = append(out, &api.ContainerLogTail{Container: c.spec.GetName(), Previous: previous, Data: data, Size: size})
		}
	}
	return out
}
