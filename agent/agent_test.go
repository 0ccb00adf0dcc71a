package agent

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/transport"
)

// startAgent runs an agent against the given servers; the returned stop
// function ends it and returns Run's error.
func startAgent(t *testing.T, cfg Config, servers ...string) (stop func() error) {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, lis, fakeMembers{servers}, nil) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func testConfig(t *testing.T) Config {
	return Config{
		Name:           "node-a",
		DataDir:        t.TempDir(),
		RPCAddr:        "127.0.0.1:0",
		GossipAddr:     "127.0.0.1:0",
		LeaseTTL:       300 * time.Millisecond,
		RestartBackoff: 50 * time.Millisecond,
		Logger:         testLogger(t),
	}
}

func TestAgentRunsWatchedPodsAndReports(t *testing.T) {
	ctl, addr := startFakeControl(t)
	startAgent(t, testConfig(t), "127.0.0.1:1", addr) // the first server is down
	ctl.setPods(testPod{name: "pod-a", uid: "uid-a", scripts: []string{"echo hi"}}.build())
	st := ctl.waitReport(t, "uid-a", phaseIs("Succeeded"))
	if code := st.GetContainerStatuses()[0].GetState().GetTerminated().GetExitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// twoFakeControls starts two fake servers, in the order an agent tries
// them (by address).
func twoFakeControls(t *testing.T) (first, second *fakeControl, firstAddr, secondAddr string) {
	t.Helper()
	first, firstAddr = startFakeControl(t)
	second, secondAddr = startFakeControl(t)
	if secondAddr < firstAddr {
		return second, first, secondAddr, firstAddr
	}
	return first, second, firstAddr, secondAddr
}

// testServers is node-a's view of the servers at addrs.
func testServers(t *testing.T, addrs ...string) *servers {
	t.Helper()
	srv := &servers{node: "node-a", pool: newServerPool(func() []string { return addrs }, transport.Config{}), logger: testLogger(t), resync: make(chan struct{}, 1)}
	t.Cleanup(srv.pool.close)
	return srv
}

// The watch moves to the leader a heartbeat names, and back to any
// server when the leader fails.
func TestWatchFollowsTheLeader(t *testing.T) {
	first, second, firstAddr, secondAddr := twoFakeControls(t)
	srv := testServers(t, firstAddr, secondAddr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.watch(ctx, func(*api.PodSet) {})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	watching := func(c *fakeControl) int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.watching
	}
	wait.For(t, "a watch on the first server", func() (bool, string) {
		return watching(first) == 1, fmt.Sprint(watching(first), watching(second))
	})
	first.mu.Lock()
	first.leader = secondAddr
	first.mu.Unlock()
	if _, err := srv.heartbeat(ctx, firstAddr); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the watch on the leader alone", func() (bool, string) {
		return watching(first) == 0 && watching(second) == 1, fmt.Sprint(watching(first), watching(second))
	})
	second.partition(true)
	wait.For(t, "the watch back on the first server", func() (bool, string) {
		return watching(first) == 1, fmt.Sprint(watching(first), watching(second))
	})
}

// Status reports go to the leader a heartbeat names rather than through
// a follower, and to the other servers in turn when it fails.
func TestReportsGoToTheLeader(t *testing.T) {
	first, second, firstAddr, secondAddr := twoFakeControls(t)
	srv := testServers(t, firstAddr, secondAddr)
	ctx := t.Context()
	reports := func(c *fakeControl) int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.reports)
	}
	report := func(uid string) error {
		return srv.reportStatus(ctx, []*api.PodStatusUpdate{{Name: uid, Uid: uid, Status: &api.PodStatus{Phase: api.PodRunning}}})
	}
	if err := report("before"); err != nil {
		t.Fatal(err)
	}
	if reports(first) != 1 || reports(second) != 0 {
		t.Fatalf("with no leader known, reports reached %d and %d, want the first server", reports(first), reports(second))
	}
	first.mu.Lock()
	first.leader = secondAddr
	first.mu.Unlock()
	if _, err := srv.heartbeat(ctx, firstAddr); err != nil {
		t.Fatal(err)
	}
	if err := report("led"); err != nil {
		t.Fatal(err)
	}
	if reports(first) != 1 || reports(second) != 1 {
		t.Errorf("after a heartbeat named the second server leader, reports reached %d and %d, want the leader", reports(first), reports(second))
	}
	second.partition(true)
	if err := report("lost"); err == nil {
		t.Fatal("a report to a partitioned leader succeeded")
	}
	if err := report("again"); err != nil {
		t.Fatal(err)
	}
	if reports(first) != 2 {
		t.Errorf("after the leader failed, the first server has %d reports, want 2", reports(first))
	}
}

func TestWatchIgnoresStaleSets(t *testing.T) {
	ctl, addr := startFakeControl(t)
	srv := testServers(t, addr)
	var mu sync.Mutex
	var synced [][]string
	record := func(pods []*api.Pod) {
		var names []string
		for _, p := range pods {
			names = append(names, p.GetMetadata().GetName())
		}
		mu.Lock()
		synced = append(synced, names)
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.watch(ctx, func(set *api.PodSet) { record(set.GetPods()) })
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	podA := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"true"}}.build()
	podB := testPod{name: "pod-b", uid: "uid-b", scripts: []string{"true"}}.build()
	ctl.setPodsAt(5, podA)
	ctl.waitSent(t, 5)
	ctl.setPodsAt(3)
	ctl.waitSent(t, 3)
	ctl.setPodsAt(6, podA, podB)
	wait.For(t, "two sets synced", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(synced) >= 2, fmt.Sprintf("synced %v", synced)
	})
	mu.Lock()
	defer mu.Unlock()
	want := [][]string{{"pod-a"}, {"pod-a", "pod-b"}}
	if !slices.EqualFunc(want, synced, slices.Equal) {
		t.Errorf("sets synced %v, want %v (the stale set ignored)", synced, want)
	}
}

func TestAgentFencesWhenCutOff(t *testing.T) {
	ctl, addr := startFakeControl(t)
	cfg := testConfig(t)
	rt := newCountingRuntime()
	cfg.Runtime = rt
	startAgent(t, cfg, addr)
	podA := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"sleep 30 & wait"}}.build()
	ctl.setPods(podA)
	ctl.waitReport(t, "uid-a", phaseIs("Running"))

	ctl.partition(true)
	for _, pgid := range rt.groups("pod-a") {
		waitGroupGone(t, pgid)
	}
	podB := testPod{name: "pod-b", uid: "uid-b", scripts: []string{"exit 0"}}.build()
	ctl.setPods(podA, podB)
	ctl.partition(false)

	lost := ctl.waitReport(t, "uid-a", phaseIs("Failed"))
	got := []string{lost.GetReason(), lost.GetMessage()}
	want := []string{"NodeLost", "node node-a lost contact with the servers"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("fenced pod reported with reason and message %q, want %q", got, want)
	}
	ctl.waitReport(t, "uid-b", phaseIs("Succeeded"))
	if n := rt.count("pod-a"); n != 1 {
		t.Errorf("fenced pod started %d times, want once", n)
	}
}

func TestAgentShutdownStopsPods(t *testing.T) {
	ctl, addr := startFakeControl(t)
	cfg := testConfig(t)
	rt := newCountingRuntime()
	cfg.Runtime = rt
	stop := startAgent(t, cfg, addr)
	ctl.setPods(testPod{name: "pod-a", uid: "uid-a", scripts: []string{"sleep 30"}}.build())
	ctl.waitReport(t, "uid-a", phaseIs("Running"))

	if err := stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	for _, pgid := range rt.groups("pod-a") {
		if groupAlive(pgid) {
			t.Errorf("process group %d alive after the agent stopped", pgid)
		}
	}
	st := ctl.waitReport(t, "uid-a", phaseIs("Failed"))
	if st.GetReason() != "NodeLost" || st.GetMessage() != "agent on node node-a shut down while the pod was running" {
		t.Errorf("reason %q message %q, want NodeLost and the shutdown message", st.GetReason(), st.GetMessage())
	}
}

func TestAgentRunJoinsByGossip(t *testing.T) {
	ctl, rpcAddr := startFakeControl(t)
	server, err := gossip.Start(gossip.Config{
		Name:     "server-1",
		BindAddr: freeAddr(t),
		Meta:     &api.MemberMeta{Role: gossip.RoleServer, RpcAddr: rpcAddr},
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Shutdown() })

	cfg := testConfig(t)
	cfg.GossipAddr = freeAddr(t)
	cfg.Join = []string{freeAddrOf(server)}
	cfg.Labels = map[string]string{"disk": "ssd"}
	cfg.CPUMillis, cfg.MemoryBytes, cfg.MaxPods = 1500, 1<<30, 7
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })

	var meta *api.MemberMeta
	wait.For(t, "agent seen by the server", func() (bool, string) {
		for _, m := range server.Members() {
			if m.Name == "node-a" && m.Status == gossip.StatusAlive {
				meta = m.Meta
				return true, ""
			}
		}
		return false, fmt.Sprintf("members %v", server.Members())
	})
	got := fmt.Sprintf("%s %v %v %v", meta.GetRole(), meta.GetLabels(), meta.GetCapacity(), meta.GetRuntimes())
	want := "agent map[disk:ssd] map[cpu:1500m memory:1073741824 pods:7] [process]"
	if got != want || !strings.HasPrefix(meta.GetRpcAddr(), "127.0.0.1:") {
		t.Errorf("agent metadata %q rpc %q, want %q and a 127.0.0.1 address", got, meta.GetRpcAddr(), want)
	}

	ctl.setPods(testPod{name: "pod-a", uid: "uid-a", scripts: []string{"exit 0"}}.build())
	ctl.waitReport(t, "uid-a", phaseIs("Succeeded"))
	if err := stop(); err != nil {
		t.Errorf("Run returned %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func freeAddrOf(g *gossip.Gossip) string {
	for _, m := range g.Members() {
		if m.Name == g.LocalName() {
			return m.Addr
		}
	}
	return ""
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{name: "complete config", change: func(*Config) {}},
		{name: "no name", change: func(c *Config) { c.Name = "" }, wantErr: "agent name is required"},
		{name: "nothing at all", change: func(c *Config) { *c = Config{} }, wantErr: "agent name is required\nagent data directory is required\nagent rpc address is required\nagent gossip address is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.change(&cfg)
			a, err := New(cfg)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("New error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.cfg.CPUMillis <= 0 || a.cfg.MemoryBytes <= 0 || a.cfg.MaxPods != 110 || a.cfg.Runtime == nil {
				t.Errorf("defaults not filled in: cpu %d memory %d pods %d runtime %v",
					a.cfg.CPUMillis, a.cfg.MemoryBytes, a.cfg.MaxPods, a.cfg.Runtime)
			}
		})
	}
}
