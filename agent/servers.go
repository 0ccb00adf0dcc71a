package agent

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/pki"
	"github.com/jobcluster/jobcluster/transport"
)

const rpcTimeout = 5 * time.Second

var errNoServers = errors.New("no server known")

// serverPool holds gRPC connections to the servers that gossip reports
// alive. Callers walk the servers with a cursor of their own and move on
// when one fails.
type serverPool struct {
	addrs     func() []string
	transport transport.Config

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func newServerPool(addrs func() []string, cfg transport.Config) *serverPool {
	return &serverPool{addrs: addrs, transport: cfg, conns: map[string]*grpc.ClientConn{}}
}

// client returns the server at position i (modulo the number of servers).
func (p *serverPool) client(i int) (api.ControlClient, string, error) {
	addrs := slices.Sorted(slices.Values(p.addrs()))
	if len(addrs) == 0 {
		return nil, "", errNoServers
	}
	return p.clientAt(addrs[i%len(addrs)])
}

// clientAt returns the server at addr.
func (p *serverPool) clientAt(addr string) (api.ControlClient, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	conn, ok := p.conns[addr]
	if !ok {
		var err error
		conn, err = transport.Dial(addr, p.transport, pki.RoleServer)
		if err != nil {
			return nil, addr, fmt.Errorf("connect to server %s: %w", addr, err)
		}
		p.conns[addr] = conn
	}
	return api.NewControlClient(conn), addr, nil
}

// prune closes connections to servers that are no longer alive.
func (p *serverPool) prune() {
	alive := map[string]bool{}
	for _, a := range p.addrs() {
		alive[a] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, conn := range p.conns {
		if !alive[addr] {
			conn.Close()
			delete(p.conns, addr)
		}
	}
}

func (p *serverPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, conn := range p.conns {
		conn.Close()
		delete(p.conns, addr)
	}
}

// servers is the agent's side of the conversation with the servers: the
// pod watch, status reports and heartbeats.
type servers struct {
	node string
	// incarnation names this agent process to the servers (see
	// api.HeartbeatRequest).
	incarnation string
	pool        *serverPool
	logger      *slog.Logger

	reportCursor int
	resync       chan struct{} // asks watch for a fresh stream, capacity 1
	// usage is the latest measurement not yet delivered with a heartbeat.
	usage atomic.Pointer[api.NodeUsage]
	// leader is the RPC address of the leader as the last heartbeat told
	// it, empty when unknown; watched is the server the watch stream is
	// open on, empty while none is.
	leader, watched atomic.Value // string
}

func loadString(v *atomic.Value) string {
	s, _ := v.Load().(string)
	return s
}

// reportStatus sends a batch of status updates to the leader the last
// heartbeat named, which applies them without a follower's hop, else to
// one server; after a failure the next call goes to the next server,
// until a heartbeat names the leader again.
func (s *servers) reportStatus(ctx context.Context, updates []*api.PodStatusUpdate) error {
	client, addr, err := s.leaderOr(s.reportCursor)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	if _, err := client.ReportPodStatus(ctx, &api.ReportPodStatusRequest{Node: s.node, Incarnation: s.incarnation, Updates: updates}); err != nil {
		if !s.leader.CompareAndSwap(addr, "") {
			s.reportCursor++
		}
		return fmt.Errorf("report to %s: %w", addr, err)
	}
	return nil
}

// leaderOr returns the leader the last heartbeat named, while it is a
// known server, else the server at cursor.
func (s *servers) leaderOr(cursor int) (api.ControlClient, string, error) {
	if leader := loadString(&s.leader); leader != "" && slices.Contains(s.pool.addrs(), leader) {
		return s.pool.clientAt(leader)
	}
	return s.pool.client(cursor)
}

// heartbeat asks the server at addr to renew the node's lease and returns
// the lease duration it granted. A server that does not lead forwards the
// request to the leader, so a success always means the leader renewed.
func (s *servers) heartbeat(ctx context.Context, addr string) (time.Duration, error) {
	i := slices.Index(slices.Sorted(slices.Values(s.pool.addrs())), addr)
	if i < 0 {
		return 0, errors.New("no longer a known server")
	}
	client, got, err := s.pool.client(i)
	if err != nil {
		return 0, err
	}
	if got != addr {
		return 0, errors.New("the known servers changed meanwhile")
	}
	usage := s.usage.Load()
	resp, err := client.Heartbeat(ctx, &api.HeartbeatRequest{Node: s.node, Incarnation: s.incarnation, Usage: usage})
	if err != nil {
		return 0, err
	}
	if usage != nil {
		s.usage.CompareAndSwap(usage, nil)
	}
	s.leaderIs(resp.GetLeaderRpcAddr())
	return time.Duration(resp.GetLeaseMillis()) * time.Millisecond, nil
}

// leaderIs records the leader a heartbeat named, and moves the watch to
// it when it is open elsewhere: the leader sees each change of the pods
// first, a follower only once the leader told it the change committed.
func (s *servers) leaderIs(addr string) {
	if addr == "" || !slices.Contains(s.pool.addrs(), addr) {
		return
	}
	s.leader.Store(addr)
	if w := loadString(&s.watched); w != "" && w != addr {
		s.requestResync()
	}
}

// requestResync makes watch open a fresh stream now, so the next desired
// set is current rather than one kept from before, and a watch waiting to
// retry does not wait any longer.
func (s *servers) requestResync() {
	select {
	case s.resync <- struct{}{}:
	default:
	}
}

// watch follows the desired pod set of this node and hands each set to
// sync, reconnecting to the next server after an error. A set older than
// one already seen (a server that lags behind) is ignored: acting on it
// could stop a pod that was just started.
func (s *servers) watch(ctx context.Context, sync func(*api.PodSet)) {
	delay := minRetryDelay
	var highest uint64
	for cursor := 0; ctx.Err() == nil; cursor++ {
		received, err := s.watchOnce(ctx, cursor, &highest, sync)
		if received {
			delay = minRetryDelay
		}
		if errors.Is(err, errResync) {
			continue
		}
		if err != nil && ctx.Err() == nil {
			s.logger.Debug("watch pods", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.resync:
		case <-time.After(delay):
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

var errResync = errors.New("resync requested")

func (s *servers) watchOnce(ctx context.Context, cursor int, highest *uint64, sync func(*api.PodSet)) (bool, error) {
	client, addr, err := s.leaderOr(cursor)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	resyncWatched := make(chan struct{})
	defer func() {
		cancel(nil)
		<-resyncWatched
	}()
	go func() {
		defer close(resyncWatched)
		select {
		case <-s.resync:
			cancel(errResync)
		case <-ctx.Done():
		}
	}()
	stream, err := client.WatchPods(ctx, &api.WatchPodsRequest{Node: s.node, HoldsPods: true, BeginsAtNotBefore: true})
	if err != nil {
		s.leader.CompareAndSwap(addr, "")
		return false, fmt.Errorf("watch pods on %s: %w", addr, err)
	}
	s.watched.Store(addr)
	defer s.watched.Store("")
	received := false
	var dec podSetDecoder
	for {
		frame := &api.PodSetFrame{}
		err := stream.RecvMsg(frame)
		if err != nil {
			if cause := context.Cause(ctx); errors.Is(cause, errResync) {
				return received, cause
			}
			// The next try goes to the next server, until a heartbeat
			// names the leader again.
			s.leader.CompareAndSwap(addr, "")
			return received, fmt.Errorf("watch pods on %s: %w", addr, err)
		}
		received = true
		set, err := dec.decode(frame)
		if err != nil {
			return received, fmt.Errorf("watch pods on %s: %w", addr, err)
		}
		if set.GetIndex() < *highest {
			s.logger.Debug("ignore stale pod set", "server", addr, "index", set.GetIndex(), "seen", *highest)
			continue
		}
		*highest = set.GetIndex()
		sync(set)
	}
}

// newIncarnation returns a fresh name for this agent process.
func newIncarnation() string { return rand.Text() }

// NotifyStopped tells the servers that node's agent process incarnation
// died and every pod it ran was killed, through the first server that
// takes it (a follower forwards it to the leader), trying them all in
// turn until ctx ends: during an election none may. It is what the guard
// of a dead agent calls.
func NotifyStopped(ctx context.Context, cfg transport.Config, servers []string, node, incarnation string) error {
	req := &api.HeartbeatRequest{Node: node, Incarnation: incarnation, Stopped: true}
	var last error
	for {
		for _, addr := range servers {
			if err := notifyStoppedAt(ctx, cfg, addr, req); err != nil {
				last = err
				continue
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func notifyStoppedAt(ctx context.Context, cfg transport.Config, addr string, req *api.HeartbeatRequest) error {
	conn, err := transport.Dial(addr, cfg, pki.RoleServer)
	if err != nil {
		return fmt.Errorf("connect to server %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := api.NewControlClient(conn).Heartbeat(ctx, req); err != nil {
		return fmt.Errorf("server %s: %w", addr, err)
	}
	return nil
}
