package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/internal/datadir"
	"github.com/jobcluster/jobcluster/metrics"
	"github.com/jobcluster/jobcluster/pki"
	"github.com/jobcluster/jobcluster/transport"
)

// Server is one running jobcluster server.
type Server struct {
	cfg    Config
	timing Timing
	logger *slog.Logger

	seams seams
	clock clock
	fsm   *fsm.FSM
	raft  *raft.Raft
	store raftStore
	snaps raft.SnapshotStore
	// startIndex is the index of the last command in the local log when
	// the server started; reads wait until the state machine has replayed
	// that far.
	startIndex atomic.Uint64
	started    time.Time
	caughtUp   atomic.Bool
	leaderCh   chan bool
	transport  raft.Transport
	gossip     membership
	// membersChanged wakes the loops that follow membership.
	membersChanged *broadcast
	grpc           *grpc.Server
	rpcLis         net.Listener
	proposer       *proposer
	// placing is held while pods are placed and their placement proposed,
	// so that two placements never share the same free capacity: by the
	// job controller for a whole pass, and by a submit that creates a
	// new Job's first pods with it.
	placing    sync.Mutex
	peers      *peerConns
	auditor    *auditor
	leases     *leases
	usage      *usages
	released   *releases
	similar    similarEvents // combines similar events the leader records
	lastLeader lastLeader
	registry   *metrics.Registry
	metrics    *metrics.Server
	identities serverIdentities

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	shutdownOnce sync.Once
	lock         *datadir.Lock
	// left is closed once the server left the cluster on request.
	left     chan struct{}
	leftOnce sync.Once
}

// New starts a server: it opens (or creates) the Raft state in the data
// directory, binds every address and begins gossiping. It returns once all
// listeners are up; bootstrap and leader election continue in the
// background.
func New(cfg Config) (*Server, error) {
	return newServer(cfg, seams{})
}

// newServer starts a server on the given seams; a zero seam means the
// real thing.
func newServer(cfg Config, sm seams) (*Server, error) {
	if cfg.Name == "" {
		return nil, errors.New("server name is empty: pass --name")
	}
	reg := cfg.Metrics
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	s := &Server{
		cfg: withMetrics(cfg, reg), timing: cfg.Timing.withDefaults(), logger: cfg.logger(), seams: sm.withDefaults(),
		left: make(chan struct{}), registry: reg, metrics: metrics.NewServer(reg),
	}
	s.identities = serverIdentities{verified: map[string]string{}, refused: map[string]string{}}
	s.released = newReleases()
	s.clock = s.seams.clock
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.start(); err != nil {
		s.Shutdown()
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	if s.cfg.DataDir != "" {
		lock, err := datadir.Acquire(s.cfg.DataDir)
		if err != nil {
			return err
		}
		s.lock = lock
	}
	raftDir := filepath.Join(s.cfg.DataDir, "raft")
	if err := os.MkdirAll(filepath.Join(raftDir, "snapshots"), 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if tl := s.cfg.Transport.TLS; tl != nil && tl.Identity().Role != pki.RoleServer {
		return fmt.Errorf("certificate %s is %s's, a %s certificate: a server needs a server certificate (jobcluster tls cert create --server --name %s)", tl.Files().CertFile, tl.Identity().Name, tl.Identity().Role, s.cfg.Name)
	}
	rpcLis, err := net.Listen("tcp", s.cfg.RPCAddr)
	if err != nil {
		return fmt.Errorf("listen on rpc address %s: %w", s.cfg.RPCAddr, err)
	}
	s.rpcLis = rpcLis
	s.fsm = fsm.New(s.logger.With("component", "fsm"))
	s.setSecretKeys()
	if err := s.startRaft(raftDir); err != nil {
		return err
	}
	leaderChanges := s.observeLeaders()
	s.goFunc(func() { s.recordLeaders(leaderChanges) })
	s.proposer = newProposer(s.raft, s.logger, s.metrics)
	s.peers = newPeerConns(s.cfg.Transport)
	s.leases = newLeases(s.timing.LeaseTTL / 2)
	s.usage = newUsages()
	g, err := s.seams.startGossip(gossip.Config{
		Name:     s.cfg.Name,
		BindAddr: s.cfg.GossipAddr,
		Join:     s.cfg.Join,
		Meta: &api.MemberMeta{
			Role:            gossip.RoleServer,
			RpcAddr:         s.cfg.RPCAddr,
			RaftAddr:        s.cfg.RaftAddr,
			BootstrapExpect: int32(s.cfg.BootstrapExpect),
			Version:         api.Version(),
		},
		Timing:  s.timing.Gossip,
		Keyring: s.cfg.GossipKeyring,
		Logger:  s.logger.With("component", "gossip"),
	})
	if err != nil {
		return err
	}
	s.gossip = g
	s.membersChanged = newBroadcast()
	s.goFunc(s.relayMemberChanges)

	var auth []grpc.ServerOption
	if s.cfg.Transport.TLS != nil {
		auth = authInterceptors(s)
	}
	s.auditor = newAuditor(s)
	s.goFunc(func() { s.auditor.run(s.ctx) })
	s.grpc = transport.NewServer(s.cfg.Transport, auth...)
	api.RegisterControlServer(s.grpc, &controlService{s: s})
	s.goFunc(func() {
		if err := s.grpc.Serve(rpcLis); err != nil {
			s.logger.Error("rpc server stopped", "err", err)
		}
	})
	s.goFunc(s.bootstrapLoop)
	s.goFunc(s.monitorLeadership)
	s.goFunc(s.snapshotBySize)
	s.goFunc(s.reportReplay)
	s.metrics.ObserveState(s.registry, s.metricsState)
	s.logger.Info("server started", "node", s.cfg.Name, "rpc", s.cfg.RPCAddr, "raft", s.cfg.RaftAddr, "gossip", s.cfg.GossipAddr)
	return nil
}

// raftLogCache is how many of the newest Raft entries are kept in memory:
// twice conf.MaxAppendEntries, so that a follower a full append behind is
// still sent entries from memory. Entries average a few KiB under load (a
// batch of a hundred pods' statuses is tens of KiB), so this holds about
// 2 MiB.
const raftLogCache = 512

func (s *Server) startRaft(dir string) error {
	hlog := hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Debug,
		Output: gossip.LogWriter{Logger: s.logger.With("component", "raft")},
	})
	if err := s.openRaftStorage(dir, hlog); err != nil {
		return err
	}
	s.startIndex.Store(lastCommandIndex(s.store, math.MaxUint64))
	s.started = s.clock.Now()
	s.fsm.SetObserver(&applyObserver{m: s.metrics, after: s.startIndex.Load()})
	s.leaderCh = make(chan bool, 16)
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(s.cfg.Name)
	conf.Logger = hlog
	conf.HeartbeatTimeout = s.timing.RaftHeartbeat
	conf.ElectionTimeout = s.timing.RaftHeartbeat
	conf.LeaderLeaseTimeout = s.timing.RaftHeartbeat / 2
	// Followers learn each commit from the barrier the leader appends
	// after it (spreadCommitsLoop); Raft's own append of nothing every
	// CommitTimeout is only the fallback, and it is what an idle leader
	// spends its time on when short.
	conf.CommitTimeout = s.timing.RaftHeartbeat
	// Frequent snapshots keep a restarted server's replay short (see also
	// snapshotBySize). Taking one is cheap for the FSM (memdb snapshots are
	// immutable views); writing it happens in the background.
	conf.SnapshotThreshold = 4096
	conf.SnapshotInterval = 10 * time.Second
	conf.TrailingLogs = 10240
	conf.MaxAppendEntries = 256
	conf.NotifyCh = s.leaderCh
	// The newest entries stay in memory as well as in the log: the leader
	// reads each one back to replicate it, and every server to apply it,
	// which would otherwise be a read and a msgpack decode of each entry.
	logs, err := raft.NewLogCache(raftLogCache, s.store)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	r, err := raft.NewRaft(conf, measuredFSM{FSM: s.fsm, m: s.metrics}, logs, s.store, s.snaps, s.transport)
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
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.clock.After(time.Second):
		}
		if s.fsm.LogBytesSinceSnapshot() < limit {
			continue
		}
		start := s.clock.Now()
		if err := s.raft.Snapshot().Error(); err != nil {
			s.logger.Debug("snapshot by log size", "err", err)
			continue
		}
		s.logger.Debug("snapshot by log size", "index", s.fsm.AppliedIndex(), "took", s.clock.Now().Sub(start))
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

// Leave departs for good: a leader hands over leadership, the server has
// the leader remove it from the Raft configuration and waits (a few
// seconds at most) until it sees itself removed, so the remaining servers
// form a majority without it, and the others record it as left.
func (s *Server) Leave() {
	if s.raft == nil || s.gossip == nil {
		return
	}
	if s.IsLeader() {
		if err := s.raft.LeadershipTransfer().Error(); err != nil {
			s.logger.Debug("leadership transfer", "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	for ctx.Err() == nil && s.inConfiguration() {
		req := &api.RemoveMemberRequest{Name: s.cfg.Name, Leaving: true}
		_, err := toLeader(ctx, s,
			func() (*api.RemoveMemberResponse, error) { return nil, ErrNotLeader },
			func(cl api.ControlClient, ctx context.Context) (*api.RemoveMemberResponse, error) {
				return cl.RemoveMember(ctx, req)
			})
		if err != nil {
			s.logger.Debug("leave: remove from raft", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := s.gossip.Leave(2 * time.Second); err != nil {
		s.logger.Debug("gossip leave", "err", err)
	}
	s.logger.Info("left the cluster", "node", s.cfg.Name)
}

// inConfiguration reports whether this server is still in the Raft
// configuration it knows.
func (s *Server) inConfiguration() bool {
	future := s.raft.GetConfiguration()
	if future.Error() != nil {
		return true
	}
	for _, srv := range future.Configuration().Servers {
		if srv.ID == raft.ServerID(s.cfg.Name) {
			return true
		}
	}
	return false
}

// Shutdown stops everything without telling the others (as a crash would,
// but cleanly closing files).
func (s *Server) Shutdown() {
	s.shutdownOnce.Do(func() {
		s.cancel()
		if s.grpc != nil {
			stopped := make(chan struct{})
			go func() { s.grpc.GracefulStop(); close(stopped) }()
			// Streams that outlive a second are cut. The grace period is
			// real time whatever the server's clock says.
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
		if c, ok := s.transport.(io.Closer); ok {
			c.Close()
		}
		s.wg.Wait()
		if s.proposer != nil {
			s.proposer.close()
		}
		if s.peers != nil {
			s.peers.close()
		}
		if c, ok := s.store.(io.Closer); ok {
			c.Close()
		}
		if err := s.lock.Release(); err != nil {
			s.logger.Debug("release data dir", "err", err)
		}
	})
}
