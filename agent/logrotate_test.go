package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRotateLogKeepsMaxFilesOfAtMostMaxSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "main.log")
	// The writer's own handle, as a process has it.
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i, chunk := range []string{"aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc", "dddddddddddd"} {
		if _, err := w.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
		rotated, err := rotateLog(path, 10, 3)
		if err != nil || !rotated {
			t.Fatalf("rotation %d: rotated %v, %v", i, rotated, err)
		}
	}
	if _, err := w.WriteString("e"); err != nil {
		t.Fatal(err)
	}
	if rotated, err := rotateLog(path, 10, 3); err != nil || rotated {
		t.Errorf("a log under the size was rotated: %v, %v", rotated, err)
	}
	want := map[string]string{"main.log": "e", "main.log.1": "dddddddddddd", "main.log.2": "cccccccccccc"}
	for name, content := range want {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
		if err != nil || string(b) != content {
			t.Errorf("%s = %q, %v; want %q", name, b, err, content)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 {
		t.Errorf("files %s, want the current log and 2 rotated ones", strings.Join(names, " "))
	}
	if rotated, err := rotateLog(filepath.Join(t.TempDir(), "absent.log"), 10, 3); err != nil || rotated {
		t.Errorf("a missing log: %v, %v; want nothing done", rotated, err)
	}
}

// A reader that follows a log loses nothing to rotations that come
// between its reads: one, several, one after the writer's last line;
// only what was rotated out of the kept files is gone.
func TestLogFollowerReadsAcrossRotations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps string // w:text writes, R rotates, r reads to the end
		want  string
	}{
		{"no rotation", "w:a1 r w:a2 r", "a1a2"},
		{"one rotation", "w:a1 r w:a2 R w:b1 r", "a1a2b1"},
		{"after the last line", "w:a1 r w:a2 R r", "a1a2"},
		{"two rotations", "w:a1 r w:a2 R w:a3 R w:b1 r", "a1a2a3b1"},
		{"more than are kept", "w:a1 r w:a2 R w:a3 R w:a4 R w:b1 r", "a1a3a4b1"},
		{"before the first read", "w:a1 R w:b1 r", "a1b1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "main.log")
			w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			runner := &podRunner{rotations: map[string]int{}}
			lf, err := openLogFollower(path, "main", runner, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer lf.Close()
			var got strings.Builder
			buf := make([]byte, 1)
			for _, step := range strings.Fields(tc.steps) {
				switch {
				case strings.HasPrefix(step, "w:"):
					if _, err := w.WriteString(step[2:]); err != nil {
						t.Fatal(err)
					}
				case step == "R":
					runner.logMu.Lock()
					rotated, err := rotateLog(path, 0, 3)
					runner.rotations["main"]++
					runner.logMu.Unlock()
					if err != nil || !rotated {
						t.Fatalf("rotate: %v %v", rotated, err)
					}
				case step == "r":
					for {
						n, err := lf.Read(buf)
						got.Write(buf[:n])
						if n == 0 || err != nil {
							break
						}
					}
				}
			}
			if got.String() != tc.want {
				t.Errorf("read %q, want %q", got.String(), tc.want)
			}
		})
	}
}
