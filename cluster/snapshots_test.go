package cluster

import (
	"io"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

func TestSnapshotFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	files, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	store, err := newPrivateSnapshots(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := store.Create(raft.SnapshotVersionMax, 10, 2, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write([]byte("state")); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = filepath.WalkDir(filepath.Join(dir, "snapshots"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 4 { // snapshots/, its directory, meta.json, state.bin
		t.Errorf("walked %d entries, want the snapshot's directory and files", seen)
	}
	if _, rc, err := store.Open(sink.ID()); err != nil {
		t.Errorf("open the restricted snapshot: %v", err)
	} else {
		rc.Close()
	}
}
