package cluster

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
)

// privateSnapshots keeps Raft's snapshot files readable by the server's
// user only (directories 0700, files 0600). raft's file store creates
// them world-readable; they hold every object, environment variables
// included. The data directory above them is 0700 already, so nobody
// else can reach a snapshot while it is being written either.
type privateSnapshots struct {
	*raft.FileSnapshotStore
	dir string // the store's "snapshots" directory
}

func newPrivateSnapshots(dir string, store *raft.FileSnapshotStore) (*privateSnapshots, error) {
	p := &privateSnapshots{FileSnapshotStore: store, dir: filepath.Join(dir, "snapshots")}
	// Snapshots written by an older build are tightened too.
	if err := restrict(p.dir); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *privateSnapshots) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := p.FileSnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	return &privateSink{SnapshotSink: sink, dir: filepath.Join(p.dir, sink.ID())}, nil
}

// privateSink restricts a snapshot's files once they are complete.
type privateSink struct {
	raft.SnapshotSink
	dir string
}

func (s *privateSink) Close() error {
	if err := s.SnapshotSink.Close(); err != nil {
		return err
	}
	return restrict(s.dir)
}

// restrict makes dir and everything under it private to the owner.
func restrict(dir string) error {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o600)
		if d.IsDir() {
			mode = 0o700
		}
		return os.Chmod(path, mode)
	})
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("restrict permissions of %s: %w", dir, err)
	}
	return nil
}
