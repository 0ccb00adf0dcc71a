package cluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/jobcluster/jobcluster/gossip"
)

// membership is the gossip view a server works from. *gossip.Gossip is
// the real one. Safe for concurrent use.
type membership interface {
	// Members lists every member known, in any status, sorted by name.
	Members() []gossip.Member
	// AliveServers lists the servers alive or suspect.
	AliveServers() []gossip.Member
	// Changed receives a value, coalesced, after any membership change.
	Changed() <-chan struct{}
	// Leave tells the others this member leaves for good.
	Leave(timeout time.Duration) error
	// Shutdown stops gossiping without telling anyone.
	Shutdown() error
}

// raftStore holds Raft's log and its stable values.
type raftStore interface {
	raft.LogStore
	raft.StableStore
}

// seams are the parts a server otherwise builds from its Config, which
// in-process tests hand in instead: a fake clock, a membership without
// sockets, Raft on an in-memory transport and stores. Production servers
// use the zero value.
type seams struct {
	clock       clock
	startGossip func(gossip.Config) (membership, error)
	// transport, store and snaps replace Raft's TCP transport and its
	// files in the data directory; they are given together or not at all.
	transport raft.Transport
	store     raftStore
	snaps     raft.SnapshotStore
	// exit ends the process when the server cannot go on (os.Exit).
	exit func(code int)
}

func (sm seams) withDefaults() seams {
	if sm.clock == nil {
		sm.clock = wallClock{}
	}
	if sm.exit == nil {
		sm.exit = os.Exit
	}
	if sm.startGossip == nil {
		sm.startGossip = func(cfg gossip.Config) (membership, error) { return gossip.Start(cfg) }
	}
	return sm
}

// openRaftStorage opens Raft's log, snapshots and transport: those given
// in the seams, else the files in dir and a TCP transport on RaftAddr,
// mutual TLS between server certificates when the server has TLS.
func (s *Server) openRaftStorage(dir string, hlog hclog.Logger) error {
	if s.seams.transport != nil {
		s.store, s.snaps, s.transport = s.seams.store, s.seams.snaps, s.seams.transport
		return nil
	}
	path := filepath.Join(dir, "raft.db")
	store, err := raftboltdb.New(raftboltdb.Options{Path: path})
	if err != nil {
		return fmt.Errorf("open raft log %s: %w", path, err)
	}
	s.store = store
	files, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hlog)
	if err != nil {
		return fmt.Errorf("open raft snapshots: %w", err)
	}
	snaps, err := newPrivateSnapshots(dir, files)
	if err != nil {
		return fmt.Errorf("open raft snapshots: %w", err)
	}
	s.snaps = snaps
	if s.cfg.Transport.TLS != nil {
		layer, err := newTLSStreamLayer(s.cfg.RaftAddr, s.cfg.Transport)
		if err != nil {
			return err
		}
		s.transport = raft.NewNetworkTransportWithLogger(layer, 3, 5*time.Second, hlog)
		return nil
	}
	advertise, err := net.ResolveTCPAddr("tcp", s.cfg.RaftAddr)
	if err != nil {
		return fmt.Errorf("raft address %q: %w", s.cfg.RaftAddr, err)
	}
	trans, err := raft.NewTCPTransportWithLogger(s.cfg.RaftAddr, advertise, 3, 5*time.Second, hlog)
	if err != nil {
		return fmt.Errorf("listen on raft address %s: %w", s.cfg.RaftAddr, err)
	}
	s.transport = trans
	return nil
}
