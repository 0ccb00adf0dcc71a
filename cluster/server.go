package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"google.golang.org/grpc"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/transport"
)

// Server is one running jobcluster server.
type Server struct {
	cfg    Config
	timing Timing
	logger *slog.Logger

	fsm   *fsm.FSM
	raft  *raft.Raft
	store *raftboltdb.BoltStore
	snaps *raft.FileSnapshotStore
	// startIndex is the last index in the local log when the server
	// started; reads wait until the state machine has replayed that far.
	startIndex uint64
	started    time.Time
	caughtUp   atomic.Bool
	leaderCh   chan bool
	transport  *raft.NetworkTransport
	gossip     *gossip.Gossip
	grpc       *grpc.Server
	rpcLis     net.Listener
	proposer   *proposer
	peers      *peerConns
	leases     *leases
	lastLeader lastLeader

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	shutdownOnce sync.Once
}

// New starts a server: it opens (or creates) the Raft state in the data
// directory, binds every address and begins gossiping. It returns once all
// listeners are up; bootstrap and leader election continue in the
// background.
func New(cfg Config) (*Server, error) {
	if cfg.Name == "" {
		return nil, errors.New("server name is empty: pass --name")
	}
	s := &Server{cfg: cfg, timing: cfg.Timing.withDefaults(), logger: cfg.logger()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.start(); err != nil {
		s.Shutdown()
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	raftDir := filepath.Join(s.cfg.DataDir, "raft")
	if err := os.MkdirAll(filepath.Join(raftDir, "snapshots"), 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	rpcLis, err := net.Listen("tcp", s.cfg.RPCAddr)
	if err != nil {
		return fmt.Errorf("listen on rpc address %s: %w", s.cfg.RPCAddr, err)
	}
	s.rpcLis = rpcLis
	s.fsm = fsm.New(s.logger.With("component", "fsm"))
	if err := s.startRaft(raftDir); err != nil {
		return err
	}
	leaderChanges := s.observeLeaders()
	s.goFunc(func() { s.recordLeaders(leaderChanges) })
	s.proposer = newProposer(s.raft, s.logger)
	s.peers = newPeerConns(s.cfg.Transport)
	s.leases = newLeases()
	g, err := gossip.Start(gossip.Config{
		Name:     s.cfg.Name,
		BindAddr: s.cfg.GossipAddr,
		Join:     s.cfg.Join,
		Meta: &api.MemberMeta{
			Role:            gossip.RoleServer,
			RpcAddr:         s.cfg.RPCAddr,
			RaftAddr:        s.cfg.RaftAddr,
			BootstrapExpect: int32(s.cfg.BootstrapExpect),
		},
		Timing: s.timing.Gossip,
		Logger: s.logger.With("component", "gossip"),
	})
	if err != nil {
		return err
	}
	s.gossip = g

	s.grpc = transport.NewServer(s.cfg.Transport)
	api.RegisterControlServer(s.grpc, &controlService{s: s})
	s.goFunc(func() {
		if err := s.grpc.Serve(rpcLis); err != nil {
			s.logger.Error("rpc server stopped", "err", err)
		}
	})
	s.goFunc(s.bootstrapLoop)
	s.goFunc(s.monitorLeadership)
	s.goFunc(s.snapshotBySize)
	s.logger.Info("server started", "node", s.cfg.Name, "rpc", s.cfg.RPCAddr, "raft", s.cfg.RaftAddr, "gossip", s.cfg.GossipAddr)
	return nil
}

func (s *Server) startRaft(dir string) error {
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return fmt.Errorf("open raft log %s: %w", filepath.Join(dir, "raft.db"), err)
	}
	s.store = store
	s.startIndex, _ = store.LastIndex()
	s.started = time.Now()
	hlog := hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Debug,
		Output: gossip.LogWriter{Logger: s.logger.With("component", "raft")},
	})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hlog)
	if err != nil {
		return fmt.Errorf("open raft snapshots: %w", err)
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
	s.snaps = snaps
	s.leaderCh = make(chan bool, 16)
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(s.cfg.Name)
	conf.Logger = hlog
	conf.HeartbeatTimeout = s.timing.RaftHeartbeat
	conf.ElectionTimeout = s.timing.RaftHeartbeat
	conf.LeaderLeaseTimeout = s.timing.RaftHeartbeat / 2
	conf.CommitTimeout = 5 * time.Millisecond
	// Frequent snapshots keep a restarted server's replay short (see also
	// snapshotBySize). Taking one is cheap for the FSM (memdb snapshots are
	// immutable views); writing it happens in the background.
	conf.SnapshotThreshold = 4096
	conf.SnapshotInterval = 10 * time.Second
	conf.TrailingLogs = 10240
	conf.MaxAppendEntries = 256
	conf.NotifyCh = s.leaderCh
	r, err := raft.NewRaft(conf, s.fsm, store, store, snaps, trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	s.raft = r
	return nil
}

// snapshotBySize takes a snapshot once the log applied since the last one
// reaches Config.SnapshotLogBytes.
func (s *Server) snapshotBySize() {
	limit := uint64(s.cfg.SnapshotLogBytes)
	if limit == 0 {
		limit = DefaultSnapshotLogBytes
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		if s.fsm.LogBytesSinceSnapshot() < limit {
			continue
		}
		start := time.Now()
		if err := s.raft.Snapshot().Error(); err != nil {
			s.logger.Debug("snapshot by log size", "err", err)
			continue
		}
		s.logger.Debug("snapshot by log size", "index", s.fsm.AppliedIndex(), "took", time.Since(start))
	}
}

func (s *Server) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Name is the server's node name.
func (s *Server) Name() string { return s.cfg.Name }

// IsLeader reports whether this server leads the cluster now.
func (s *Server) IsLeader() bool { return s.raft != nil && s.raft.State() == raft.Leader }

// FSM exposes the replicated state, read-only by contract.
func (s *Server) FSM() *fsm.FSM { return s.fsm }

// Leave departs gracefully: a leader hands over leadership, the server is
// removed from the Raft configuration, and the others record it as left.
func (s *Server) Leave() {
	if s.raft == nil || s.gossip == nil {
		return
	}
	if s.IsLeader() {
		if err := s.raft.LeadershipTransfer().Error(); err != nil {
			s.logger.Debug("leadership transfer", "err", err)
		}
	}
	// The leader removes servers it sees leave from the Raft configuration.
	if err := s.gossip.Leave(2 * time.Second); err != nil {
		s.logger.Debug("gossip leave", "err", err)
	}
}

// Shutdown stops everything without telling the others (as a crash would,
// but cleanly closing files).
func (s *Server) Shutdown() {
	s.shutdownOnce.Do(func() {
		s.cancel()
		if s.grpc != nil {
			stopped := make(chan struct{})
			go func() { s.grpc.GracefulStop(); close(stopped) }()
			select {
			case <-stopped:
			case <-time.After(time.Second):
				s.grpc.Stop()
				<-stopped
			}
		} else if s.rpcLis != nil {
			s.rpcLis.Close()
		}
		if s.gossip != nil {
			s.gossip.Shutdown()
		}
		if s.raft != nil {
			if err := s.raft.Shutdown().Error(); err != nil {
				s.logger.Warn("raft shutdown", "err", err)
			}
		}
		if s.transport != nil {
			s.transport.Close()
		}
		s.wg.Wait()
		if s.proposer != nil {
			s.proposer.close()
		}
		if s.peers != nil {
			s.peers.close()
		}
		if s.store != nil {
			s.store.Close()
		}
	})
}
