// Package gossip is cluster membership: every server and agent runs one
// memberlist instance, advertises its role and addresses in the node
// metadata, and learns who is alive, suspect, failed or gone.
package gossip

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// Member statuses, as `jobcluster members` prints them.
const (
	StatusAlive   = "alive"
	StatusSuspect = "suspect"
	StatusFailed  = "failed"
	StatusLeft    = "left"
)

// Roles carried in MemberMeta.Role.
const (
	RoleServer = "server"
	RoleAgent  = "agent"
)

// Timing tunes failure detection. The zero value means LANTiming.
type Timing struct {
	ProbeInterval  time.Duration
	ProbeTimeout   time.Duration
	GossipInterval time.Duration
	// GossipNodes is how many members each gossip round sends to; zero
	// is memberlist's default (3).
	GossipNodes   int
	SuspicionMult int
}

// LANTiming detects a dead member in about two seconds on a LAN. A change
// rides on the probes' packets and on gossip rounds, one per probe, each
// sending to up to five members. A gossip round wakes every member even
// when it has nothing to send, which is most of what an idle member
// costs: one round per probe to five members spreads a change as fast as
// two rounds to three did (memberlist sends each change a fixed number of
// times, whichever rounds carry it), on half the wakes.
var LANTiming = Timing{
	ProbeInterval:  500 * time.Millisecond,
	ProbeTimeout:   250 * time.Millisecond,
	GossipInterval: 500 * time.Millisecond,
	GossipNodes:    5,
	SuspicionMult:  3,
}

// Config describes one member.
type Config struct {
	// Name is the node name, unique in the cluster.
	Name string
	// BindAddr is the host:port to bind and advertise.
	BindAddr string
	// Join lists gossip addresses of other members; joining is retried in
	// the background until one answers.
	Join []string
	// Meta is what this member tells the others.
	Meta *api.MemberMeta
	// Keyring, when set, encrypts all gossip and drops whatever is not
	// encrypted with one of its keys; nil gossips in the clear.
	Keyring *Keyring
	Timing  Timing
	Logger  *slog.Logger
}

// Member is one node as this member sees it.
type Member struct {
	Name   string
	Addr   string
	Meta   *api.MemberMeta
	Status string
}

// Gossip is a running memberlist instance.
type Gossip struct {
	ml      *memberlist.Memberlist
	logger  *slog.Logger
	meta    []byte
	changed chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	members map[string]Member
	// clash is the first live member seen using this node's name from
	// another address ("10.0.0.5:7946"), empty while there is none.
	clash string
}

// Start binds the gossip address and begins joining in the background.
func Start(cfg Config) (*Gossip, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	host, portStr, err := net.SplitHostPort(cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("gossip address %q: %w", cfg.BindAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("gossip address %q: bad port: %w", cfg.BindAddr, err)
	}
	if net.ParseIP(host) == nil {
		// memberlist binds and advertises IP addresses only.
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return nil, fmt.Errorf("gossip address %q: resolve host: %v", cfg.BindAddr, err)
		}
		host = ips[0].String()
	}
	meta, err := proto.Marshal(cfg.Meta)
	if err != nil {
		return nil, fmt.Errorf("encode gossip metadata: %w", err)
	}
	if len(meta) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("gossip metadata is %d bytes, more than memberlist's %d: use fewer or shorter labels", len(meta), memberlist.MetaMaxSize)
	}
	g := &Gossip{
		logger:  cfg.Logger,
		meta:    meta,
		changed: make(chan struct{}, 1),
		stop:    make(chan struct{}),
		members: map[string]Member{},
	}
	t := cfg.Timing
	if t == (Timing{}) {
		t = LANTiming
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr = host
	mc.BindPort = port
	mc.AdvertiseAddr = host
	mc.AdvertisePort = port
	mc.ProbeInterval = t.ProbeInterval
	mc.ProbeTimeout = t.ProbeTimeout
	mc.GossipInterval = t.GossipInterval
	mc.SuspicionMult = t.SuspicionMult
	if t.GossipNodes > 0 {
		mc.GossipNodes = t.GossipNodes
	}
	mc.PushPullInterval = 10 * time.Second
	mc.TCPTimeout = 2 * time.Second
	// Members exchange a few hundred bytes at a time: compressing each
	// message (LZW, a fresh table every time) costs more CPU than it saves
	// bytes, idle or busy. Compressed messages from older members are
	// still read.
	mc.EnableCompression = false
	if cfg.Keyring != nil {
		mc.Keyring = cfg.Keyring.ring
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	mc.Delegate = delegate{g}
	mc.Events = events{g}
	mc.Conflict = conflicts{g: g, name: cfg.Name}
	mc.Logger = log.New(LogWriter{Logger: cfg.Logger.With("component", "memberlist")}, "", 0)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s: %w", cfg.BindAddr, err)
	}
	g.ml = ml
	if len(cfg.Join) > 0 {
		// One join now, so that a live member already using this name
		// is found before the node starts: the joiner is the one to go.
		// Seeds that are not up yet are tried again in the background.
		if _, err := ml.Join(cfg.Join); err != nil {
			g.logger.Debug("first join failed, retrying in the background", "addrs", cfg.Join, "err", err)
		}
		if clash := g.nameClash(); clash != "" {
			_ = ml.Shutdown()
			return nil, fmt.Errorf("%w: member %q at %s is alive; give this node another --name", ErrNameTaken, cfg.Name, clash)
		}
		g.wg.Add(1)
		go g.joinLoop(cfg.Join)
	}
	return g, nil
}

// ErrNameTaken: a live member of the cluster already uses the node's name.
var ErrNameTaken = errors.New("node name already taken")

func (g *Gossip) nameClash() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.clash
}

// conflicts hears of members that claim this node's name from another
// address. memberlist keeps the member it knew and ignores the other.
type conflicts struct {
	g    *Gossip
	name string
}

func (c conflicts) NotifyConflict(existing, other *memberlist.Node) {
	if existing.Name != c.name {
		return // two other members clash; they find out themselves
	}
	c.g.mu.Lock()
	first := c.g.clash == ""
	if first {
		c.g.clash = other.Address()
	}
	c.g.mu.Unlock()
	if first {
		c.g.logger.Warn("another member uses this node's name from another address; give one of them another --name", "name", c.name, "other", other.Address())
	}
}

// joinLoop joins through the seed addresses, retrying until one answers,
// and joins again whenever no seed is an alive member any more: after a
// partition that outlasted memberlist's memory of dead members, the two
// sides would otherwise never find each other again.
func (g *Gossip) joinLoop(addrs []string) {
	defer g.wg.Done()
	backoff := 100 * time.Millisecond
	joined := false
	for {
		if !joined || !g.seesSeed(addrs) {
			n, err := g.ml.Join(addrs)
			if n > 0 {
				if joined {
					g.logger.Info("rejoined cluster through seed addresses", "contacted", n)
				}
				joined = true
				backoff = 100 * time.Millisecond
			} else {
				g.logger.Debug("join failed, retrying", "addrs", addrs, "err", err)
			}
		}
		wait := 2 * time.Second
		if !joined {
			wait = backoff
			if backoff < 2*time.Second {
				backoff *= 2
			}
		}
		select {
		case <-g.stop:
			return
		case <-time.After(wait):
		}
	}
}

// seesSeed reports whether any seed address belongs to an alive member
// other than this one.
func (g *Gossip) seesSeed(seeds []string) bool {
	alive := map[string]bool{}
	local := g.ml.LocalNode()
	for _, n := range g.ml.Members() {
		if n.Name != local.Name && n.State == memberlist.StateAlive {
			alive[n.Address()] = true
		}
	}
	others := 0
	for _, s := range seeds {
		if s == local.Address() {
			continue
		}
		others++
		if alive[s] {
			return true
		}
	}
	return others == 0
}

// LocalName is this member's name.
func (g *Gossip) LocalName() string { return g.ml.LocalNode().Name }

// Members lists every member known, including failed and departed ones,
// sorted by name.
func (g *Gossip) Members() []Member {
	suspect := map[string]bool{}
	for _, n := range g.ml.Members() {
		if n.State == memberlist.StateSuspect {
			suspect[n.Name] = true
		}
	}
	g.mu.Lock()
	out := make([]Member, 0, len(g.members))
	for _, m := range g.members {
		if m.Status == StatusAlive && suspect[m.Name] {
			m.Status = StatusSuspect
		}
		out = append(out, m)
	}
	g.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AliveServers lists the servers currently alive or suspect.
func (g *Gossip) AliveServers() []Member {
	var out []Member
	for _, m := range g.Members() {
		if m.Meta.GetRole() == RoleServer && (m.Status == StatusAlive || m.Status == StatusSuspect) {
			out = append(out, m)
		}
	}
	return out
}

// NumMembers is the number of members memberlist considers alive.
func (g *Gossip) NumMembers() int { return g.ml.NumMembers() }

// Changed receives a value, coalesced, after any membership change.
func (g *Gossip) Changed() <-chan struct{} { return g.changed }

// Leave tells the others this member is leaving for good, waiting up to
// timeout: first through its metadata, so they record it as left rather
// than failed, then through memberlist's leave message.
func (g *Gossip) Leave(timeout time.Duration) error {
	meta := &api.MemberMeta{}
	if err := proto.Unmarshal(g.currentMeta(), meta); err == nil {
		meta.Leaving = true
		if b, err := proto.Marshal(meta); err == nil {
			g.setMeta(b)
			if err := g.ml.UpdateNode(timeout); err != nil {
				g.logger.Debug("announce leave", "err", err)
			}
		}
	}
	if err := g.ml.Leave(timeout); err != nil {
		return fmt.Errorf("leave cluster: %w", err)
	}
	return nil
}

func (g *Gossip) currentMeta() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.meta
}

func (g *Gossip) setMeta(b []byte) {
	g.mu.Lock()
	g.meta = b
	g.mu.Unlock()
}

// Shutdown stops gossiping without telling anyone.
func (g *Gossip) Shutdown() error {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	err := g.ml.Shutdown()
	g.wg.Wait()
	return err
}

func (g *Gossip) update(n *memberlist.Node, gone bool) {
	meta := &api.MemberMeta{}
	if err := proto.Unmarshal(n.Meta, meta); err != nil {
		g.logger.Warn("ignoring member with undecodable metadata", "node", n.Name, "err", err)
		return
	}
	status := StatusAlive
	if gone {
		status = StatusFailed
		if meta.GetLeaving() {
			status = StatusLeft
		}
	}
	g.mu.Lock()
	g.members[n.Name] = Member{Name: n.Name, Addr: n.Address(), Meta: meta, Status: status}
	g.mu.Unlock()
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

type delegate struct{ g *Gossip }

func (d delegate) NodeMeta(limit int) []byte                  { return d.g.currentMeta() }
func (d delegate) NotifyMsg([]byte)                           {}
func (d delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d delegate) LocalState(join bool) []byte                { return nil }
func (d delegate) MergeRemoteState(buf []byte, join bool)     {}

type events struct{ g *Gossip }

// The memberlist lock is held while these run: they must not call back
// into memberlist.
func (e events) NotifyJoin(n *memberlist.Node)   { e.g.update(n, false) }
func (e events) NotifyLeave(n *memberlist.Node)  { e.g.update(n, true) }
func (e events) NotifyUpdate(n *memberlist.Node) { e.g.update(n, false) }
