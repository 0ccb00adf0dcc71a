package testcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Recorder is a file in a test's temporary directory to which pods'
// commands append when they start and end, so a test sees when each pod's
// process really ran.
type Recorder struct {
	// Path is the file the pods append to.
	Path string
}

// NewRecorder returns a recorder writing to a fresh file under t.TempDir().
func NewRecorder(t testing.TB) *Recorder {
	t.Helper()
	return &Recorder{Path: filepath.Join(t.TempDir(), "intervals")}
}

// Wrap returns a shell script that appends `start <epoch-nanos> $HOSTNAME`,
// runs body, appends `end <epoch-nanos> $HOSTNAME` and exits with body's
// status. body must be shell text without single quotes.
func (r *Recorder) Wrap(body string) string {
	return fmt.Sprintf(`echo start $(date +%%s%%N) $HOSTNAME >> %[1]s; %[2]s; rc=$?; echo end $(date +%%s%%N) $HOSTNAME >> %[1]s; exit $rc`, r.Path, body)
}

// Interval is one run of one pod's process. End is zero for a run that
// has not written its end (still running, or killed).
type Interval struct {
	Pod        string
	Start, End int64
}

// Intervals parses the file: each pod's start lines are paired in order
// with its end lines (a pod restarted in place runs several times).
func (r *Recorder) Intervals() ([]Interval, error) {
	b, err := os.ReadFile(r.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Interval
	open := map[string]int{} // pod -> index in out of its unfinished run
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s line %d: %q: want `start|end NANOS POD`", r.Path, i+1, line)
		}
		at, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", r.Path, i+1, err)
		}
		pod := f[2]
		switch f[0] {
		case "start":
			if _, ok := open[pod]; ok {
				return nil, fmt.Errorf("%s line %d: %s started again before it ended", r.Path, i+1, pod)
			}
			open[pod] = len(out)
			out = append(out, Interval{Pod: pod, Start: at})
		case "end":
			j, ok := open[pod]
			if !ok {
				return nil, fmt.Errorf("%s line %d: %s ended without a start", r.Path, i+1, pod)
			}
			out[j].End = at
			delete(open, pod)
		default:
			return nil, fmt.Errorf("%s line %d: %q: want start or end", r.Path, i+1, f[0])
		}
	}
	return out, nil
}

// MaxOverlap is the largest number of intervals running at one instant.
// An interval without an end counts as running to the end of time; one
// that ends exactly when another starts does not overlap it.
func MaxOverlap(intervals []Interval) int {
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	for _, iv := range intervals {
		edges = append(edges, edge{iv.Start, +1})
		if iv.End != 0 {
			edges = append(edges, edge{iv.End, -1})
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].delta < edges[j].delta
	})
	running, most := 0, 0
	for _, e := range edges {
		running += e.delta
		most = max(most, running)
	}
	return most
}

// PodNames lists the distinct pod names in intervals, in order of first start.
func PodNames(intervals []Interval) []string {
	seen := map[string]bool{}
	var out []string
	for _, iv := range intervals {
		if !seen[iv.Pod] {
			seen[iv.Pod] = true
			out = append(out, iv.Pod)
		}
	}
	return out
}
