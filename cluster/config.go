// Package cluster is a jobcluster server: Raft on disk, gossip membership,
// the gRPC API, and the controllers that run on the leader.
package cluster

import (
	"io"
	"log/slog"
	"time"

	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/metrics"
	"github.com/jobcluster/jobcluster/notify"
	"github.com/jobcluster/jobcluster/seal"
	"github.com/jobcluster/jobcluster/transport"
)

// Default addresses of a server started without flags.
const (
	DefaultRPCAddr    = "127.0.0.1:7400"
	DefaultRaftAddr   = "127.0.0.1:7401"
	DefaultGossipAddr = "127.0.0.1:7402"
)

// Timing holds the knobs that trade detection speed for tolerance of slow
// machines. The zero value of each field means its default.
type Timing struct {
	// RaftHeartbeat is how long a follower waits for the leader before
	// standing for election (raft HeartbeatTimeout and ElectionTimeout).
	RaftHeartbeat time.Duration
	// LeaseTTL is how long an agent may run pods without a successful
	// heartbeat; the servers replace its pods only after it expired.
	LeaseTTL time.Duration
	// Gossip tunes failure detection among members.
	Gossip gossip.Timing
}

// DefaultTiming suits a LAN: a dead leader is replaced in about a second
// and a dead agent's pods run again elsewhere in about four.
var DefaultTiming = Timing{
	RaftHeartbeat: 500 * time.Millisecond,
	LeaseTTL:      3 * time.Second,
}

func (t Timing) withDefaults() Timing {
	if t.RaftHeartbeat == 0 {
		t.RaftHeartbeat = DefaultTiming.RaftHeartbeat
	}
	if t.LeaseTTL == 0 {
		t.LeaseTTL = DefaultTiming.LeaseTTL
	}
	return t
}

// Config describes one server.
type Config struct {
	// Name is the server's node name and Raft ID.
	Name    string
	DataDir string
	// RPCAddr, RaftAddr and GossipAddr are bound exactly and advertised.
	RPCAddr    string
	RaftAddr   string
	GossipAddr string
	// BootstrapExpect is the number of servers that bootstrap the cluster
	// together; 0 joins an existing cluster instead.
	BootstrapExpect int
	// Join lists gossip addresses of other members.
	Join   []string
	Timing Timing
	// Transport says how the server dials and accepts connections: gRPC,
	// and Raft's. With Transport.TLS, callers are authorized by the role
	// in their certificate (see authz.go), and a gossip member is added
	// to Raft only once it proved to hold a server certificate.
	Transport transport.Config
	// GossipKeyring, when set, encrypts gossip; see gossip.Keyring.
	GossipKeyring *gossip.Keyring
	// CronLead is how long before its scheduled time a CronJob's run is
	// decided and its pods bound (scheduler.CronInput.Lead); 0 means
	// DefaultCronLead, and a negative value decides each run only once
	// it is due.
	CronLead time.Duration
	// SnapshotLogBytes is how much applied log makes the server take a
	// snapshot, however few entries it holds; 0 means
	// DefaultSnapshotLogBytes.
	SnapshotLogBytes int
	Logger           *slog.Logger
	// Metrics is where the server registers its metrics (see package
	// metrics); nil gives it a registry of its own that nobody reads.
	Metrics *metrics.Registry
	// Notify are the webhooks the leader announces notifications to.
	Notify []notify.Target
	// NotifyPendingAfter is how long a Job's pod may wait for a node
	// before the Job is announced stuck (JobPending); zero never.
	NotifyPendingAfter time.Duration
	// ACL turns on ACL tokens: every client call needs a token allowed
	// to make it. It needs TLS.
	ACL bool
	// SecretKeys, when set, encrypt Secrets at rest: the leader seals each
	// Secret before proposing it and every snapshot holds them sealed
	// (server --encryption-key-file). Every server needs the same keys.
	SecretKeys *seal.Keyring
}

// DefaultSnapshotLogBytes bounds the log a restarted server replays.
// Entries vary a lot in size (one can create 1,000 Jobs), and replaying
// them costs far more per object than restoring a snapshot does, so the
// log since the last snapshot is bounded by bytes as well as by Raft's
// entry count.
const DefaultSnapshotLogBytes = 16 << 20

func (c *Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c.Logger
}
