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
