package agent

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMountTargetsLeaveTheNodeAsItWas(t *testing.T) {
	base := filepath.Join(t.TempDir(), "made")
	exists := func(p string) bool {
		_, err := os.Lstat(p)
		return !errors.Is(err, os.ErrNotExist)
	}
	var m mountTargets
	app, creds, file := filepath.Join(base, "etc", "app"), filepath.Join(base, "etc", "creds"), filepath.Join(base, "only-mode")
	for _, step := range []struct {
		acquire bool
		target  string
		file    bool
	}{{true, app, false}, {true, creds, false}, {true, file, true}, {true, app, false}} {
		if err := m.acquire(step.target, step.file); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("subPath mount point: %v %v", fi, err)
	}
	m.release(app) // one of two runs
	m.release(creds)
	if !exists(app) || exists(creds) || !exists(file) {
		t.Errorf("after releasing creds and one of app's two runs: app %v creds %v file %v", exists(app), exists(creds), exists(file))
	}
	m.release(file)
	m.release(app)
	if exists(base) {
		t.Errorf("%s is still there after every run ended", base)
	}
	// A path that existed before is never removed.
	keep := t.TempDir()
	if err := m.acquire(keep, false); err != nil {
		t.Fatal(err)
	}
	m.release(keep)
	if !exists(keep) {
		t.Errorf("a mount point that existed before was removed")
	}
}
