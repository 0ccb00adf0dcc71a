package agent

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestRemoveDirRemovesEveryKindOfTree(t *testing.T) {
	long := strings.Repeat("x", 200)
	cases := []struct {
		name  string
		build func(t *testing.T, path string)
		found bool
	}{
		{"missing", func(*testing.T, string) {}, false},
		{"empty directory", func(t *testing.T, p string) { mkdir(t, p) }, true},
		{"a pod's logs", func(t *testing.T, p string) {
			mkdir(t, p)
			write(t, filepath.Join(p, "main.log"), "done\n")
			write(t, filepath.Join(p, "main.log.1"), "before\n")
		}, true},
		{"more entries than one read returns", func(t *testing.T, p string) {
			mkdir(t, p)
			for i := range 300 {
				write(t, filepath.Join(p, long+strconv.Itoa(i)), "")
			}
		}, true},
		{"directories inside", func(t *testing.T, p string) {
			mkdir(t, filepath.Join(p, "volumes", "cache", "deep"))
			write(t, filepath.Join(p, "volumes", "cache", "deep", "f"), "x")
			mkdir(t, filepath.Join(p, "work"))
			write(t, filepath.Join(p, "main.log"), "done\n")
		}, true},
		{"a symbolic link to a directory outside", func(t *testing.T, p string) {
			mkdir(t, p)
			outside := filepath.Join(filepath.Dir(p), "outside")
			mkdir(t, outside)
			write(t, filepath.Join(outside, "keep"), "x")
			if err := os.Symlink(outside, filepath.Join(p, "link")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"a file", func(t *testing.T, p string) { write(t, p, "x") }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pod")
			c.build(t, path)
			found, err := removeFullDir(path)
			if err != nil {
				t.Fatal(err)
			}
			if found != c.found {
				t.Errorf("found = %v, want %v", found, c.found)
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s still there after removal (%v)", path, err)
			}
			if outside := filepath.Join(filepath.Dir(path), "outside", "keep"); c.name == "a symbolic link to a directory outside" && !fileExists(outside) {
				t.Error("the removal followed a symbolic link out of the directory")
			}
			// removeDir, which tries rmdir first, removes the same trees.
			c.build(t, path)
			if err := removeDir(path); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s still there after removeDir (%v)", path, err)
			}
		})
	}
}

func TestSmallFiles(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789"), 1000)
	path := filepath.Join(dir, "stat")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readSmallFile(path)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("readSmallFile = %d bytes, %v; want the file's %d", len(got), err, len(big))
	}
	if b, err := readSmallFile("/proc/self/stat"); err != nil || !bytes.Contains(b, []byte(")")) {
		t.Errorf("readSmallFile(/proc/self/stat) = %q, %v", b, err)
	}
	if _, err := readSmallFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v, want not-exist naming the path", err)
	}
	if err := writeCgroupFile(path, "1"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b[:3]) != "112" {
		t.Errorf("file starts %q after writeCgroupFile, want 112: its 1 over the old 0", b[:3])
	}
	if err := writeCgroupFile(filepath.Join(dir, "missing"), "1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write to a missing file: %v, want not-exist (a control file is never created)", err)
	}
	f, err := openFile(filepath.Join(dir, "log"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("line\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "log")); string(b) != "line\n" {
		t.Errorf("log holds %q", b)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
