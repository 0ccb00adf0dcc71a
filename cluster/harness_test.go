package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/seal"
)

// testCluster runs servers in the test process with the real FSM, real
// Raft and the real leader loops, but Raft on an in-memory transport and
// stores and membership on a fakeGossipNet, so cluster logic is tested in
// milliseconds. gRPC listens on loopback, as followers forward to the
// leader through it.
type testCluster struct {
	t      *testing.T
	clock  clock
	gossip *fakeGossipNet
	dir    string
	nodes  []*testNode
}

// testNode is one server's configuration and the Raft state it keeps
// across restarts.
type testNode struct {
	cfg    Config
	trans  *raft.InmemTransport
	store  *raft.InmemStore
	snaps  *raft.InmemSnapshotStore
	server *Server // nil while stopped
	// exits receives the code of each exit the server asked for.
	exits chan int
}

// harnessOptions tunes a testCluster; the zero value means one server on
// the wall clock.
type harnessOptions struct {
	servers int
	// clock replaces the wall clock in every server's loops.
	clock clock
	// leaseTTL is the agents' lease; 0 means the default.
	leaseTTL time.Duration
	// notifyPendingAfter is Config.NotifyPendingAfter; 0 announces no
	// Job stuck Pending.
	notifyPendingAfter time.Duration
	// secretKeys is Config.SecretKeys of the servers started first.
	secretKeys *seal.Keyring
}

// newTestCluster starts the servers, bootstrapped together; they are shut
// down when the test ends.
func newTestCluster(t *testing.T, opts harnessOptions) *testCluster {
	t.Helper()
	if opts.servers == 0 {
		opts.servers = 1
	}
	if opts.clock == nil {
		opts.clock = wallClock{}
	}
	c := &testCluster{t: t, clock: opts.clock, gossip: newFakeGossipNet(), dir: t.TempDir()}
	logger := testLogger(t)
	for i := range opts.servers {
		n := c.newNode(fmt.Sprintf("s%d", i+1), opts.servers, opts.leaseTTL, logger)
		n.cfg.NotifyPendingAfter = opts.notifyPendingAfter
		n.cfg.SecretKeys = opts.secretKeys
		c.nodes = append(c.nodes, n)
	}
	for i := range c.nodes {
		c.start(i)
	}
	return c
}

func (c *testCluster) newNode(name string, expect int, leaseTTL time.Duration, logger *slog.Logger) *testNode {
	return &testNode{
		cfg: Config{
			Name:            name,
			DataDir:         filepath.Join(c.dir, name),
			RPCAddr:         freeAddrs(c.t, testIP(), 1)[0],
			RaftAddr:        name + "-raft",
			GossipAddr:      name + "-gossip",
			BootstrapExpect: expect,
			Timing:          Timing{RaftHeartbeat: 100 * time.Millisecond, LeaseTTL: leaseTTL},
			Logger:          logger.With("server", name),
		},
		store: raft.NewInmemStore(),
		snaps: raft.NewInmemSnapshotStore(),
		exits: make(chan int, 16),
	}
}

// addServer starts one more server, which joins no one by itself: the
// leader adds it once gossip shows it.
func (c *testCluster) addServer(name string) *Server {
	c.t.Helper()
	c.nodes = append(c.nodes, c.newNode(name, 0, 0, testLogger(c.t)))
	return c.start(len(c.nodes) - 1)
}

// start starts server i from the Raft state it kept, on a fresh transport
// connected to every running server.
func (c *testCluster) start(i int) *Server {
	c.t.Helper()
	n := c.nodes[i]
	addr := raft.ServerAddress(n.cfg.RaftAddr)
	_, n.trans = raft.NewInmemTransport(addr)
	for _, o := range c.nodes {
		if o != n && o.server != nil {
			n.trans.Connect(raft.ServerAddress(o.cfg.RaftAddr), o.trans)
			o.trans.Connect(addr, n.trans)
		}
	}
	s, err := newServer(n.cfg, seams{
		clock: c.clock, startGossip: c.gossip.start,
		transport: n.trans, store: n.store, snaps: n.snaps,
		exit: func(code int) {
			select {
			case n.exits <- code:
			default:
			}
		},
	})
	if err != nil {
		c.t.Fatalf("start %s: %v", n.cfg.Name, err)
	}
	n.server = s
	c.t.Cleanup(s.Shutdown)
	return s
}

// stop shuts server i down as a crash would.
func (c *testCluster) stop(i int) {
	c.nodes[i].server.Shutdown()
	c.nodes[i].server = nil
}

// running lists the servers up now.
func (c *testCluster) running() []*Server {
	var out []*Server
	for _, n := range c.nodes {
		if n.server != nil {
			out = append(out, n.server)
		}
	}
	return out
}

// leader waits until exactly one running server leads and has started
// its loops, and returns it.
func (c *testCluster) leader() *Server {
	c.t.Helper()
	leader := leaderOf(c.t, c.running())
	wait.For(c.t, "the leader to apply its barrier", func() (bool, string) {
		start, _ := leader.leases.snapshot()
		return !start.IsZero(), "leader loops not started"
	})
	return leader
}

// follower returns a running server other than the leader that knows
// the leader.
func (c *testCluster) follower() *Server {
	c.t.Helper()
	leader := c.leader()
	var follower *Server
	wait.For(c.t, "a follower that knows the leader", func() (bool, string) {
		for _, s := range c.running() {
			if addr, _ := s.raft.LeaderWithID(); s != leader && addr != "" {
				follower = s
				return true, ""
			}
		}
		return false, "no follower knows the leader"
	})
	return follower
}

// ctx is a context for one call, cancelled when the test ends.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait.Default)
	t.Cleanup(cancel)
	return ctx
}

// submit creates objects through s and fails the test on any error.
func submit(t *testing.T, s *Server, objs ...*api.Object) {
	t.Helper()
	resp, err := client(t, s).Submit(testCtx(t), &api.SubmitRequest{Objects: objs})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	for _, r := range resp.GetResults() {
		if r.GetError() != "" {
			t.Fatalf("submit %s %s: %s", r.GetKind(), r.GetName(), r.GetError())
		}
	}
}

// testLogger routes warnings and errors to the test's log until the test
// ends; routine logs are dropped.
func testLogger(t *testing.T) *slog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testLogWriter struct {
	mu     sync.Mutex
	t      *testing.T
	closed bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(string(p))
	}
	return len(p), nil
}

func (w *testLogWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
