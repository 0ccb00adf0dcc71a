package cluster

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/transport"
)

var ipSeq atomic.Uint32

// testIP gives each test server its own loopback host.
func testIP() string {
	n := ipSeq.Add(1)
	return fmt.Sprintf("127.66.%d.%d", n/250+1, n%250+1)
}

// freeAddrs returns n distinct free ports on ip; the listeners stay open
// until all are chosen, so the kernel cannot hand out one port twice.
func freeAddrs(t testing.TB, ip string, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out
}

func testConfig(t testing.TB, name string, expect int, dir string) Config {
	addrs := freeAddrs(t, testIP(), 3)
	return Config{
		Name:            name,
		DataDir:         filepath.Join(dir, name),
		RPCAddr:         addrs[0],
		RaftAddr:        addrs[1],
		GossipAddr:      addrs[2],
		BootstrapExpect: expect,
	}
}

func startServers(t testing.TB, n int) ([]*Server, []Config) {
	t.Helper()
	dir := t.TempDir()
	var cfgs []Config
	var gossipAddrs []string
	for i := range n {
		cfg := testConfig(t, fmt.Sprintf("s%d", i+1), n, dir)
		cfgs = append(cfgs, cfg)
		gossipAddrs = append(gossipAddrs, cfg.GossipAddr)
	}
	var servers []*Server
	for i := range cfgs {
		cfgs[i].Join = gossipAddrs
		s, err := New(cfgs[i])
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
		t.Cleanup(s.Shutdown)
	}
	return servers, cfgs
}

func leaderOf(t testing.TB, servers []*Server) *Server {
	t.Helper()
	var leader *Server
	wait.For(t, "one leader", func() (bool, string) {
		leader = nil
		count := 0
		for _, s := range servers {
			if s.IsLeader() {
				leader = s
				count++
			}
		}
		return count == 1, fmt.Sprintf("%d leaders", count)
	})
	return leader
}

func client(t *testing.T, s *Server) api.ControlClient {
	t.Helper()
	conn, err := transport.Dial(s.cfg.RPCAddr, transport.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return api.NewControlClient(conn)
}

func testJob(name string) *api.Object {
	objs, err := api.DecodeManifests([]byte(strings.ReplaceAll(`apiVersion: batch/v1
kind: Job
metadata:
  name: NAME
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        command: ["true"]
`, "NAME", name)))
	if err != nil {
		panic(err)
	}
	return objs[0]
}

// stateDigest is everything a server's FSM holds, encoded
// deterministically, so replicas can be compared.
func stateDigest(s *Server) string {
	st := s.fsm.State()
	var b strings.Builder
	opts := proto.MarshalOptions{Deterministic: true}
	for _, j := range st.Jobs() {
		out, _ := opts.Marshal(j)
		b.Write(out)
	}
	for _, c := range st.CronJobs() {
		out, _ := opts.Marshal(c)
		b.Write(out)
	}
	for _, p := range st.Pods() {
		out, _ := opts.Marshal(p)
		b.Write(out)
	}
	for _, n := range st.Nodes() {
		out, _ := opts.Marshal(n)
		b.Write(out)
	}
	return fmt.Sprintf("%d objects %x", len(st.Jobs())+len(st.Pods())+len(st.Nodes()), []byte(b.String()))
}

func TestFollowerForwardsWritesAndReplicasAgreeAfterSnapshotRestart(t *testing.T) {
	servers, cfgs := startServers(t, 3)
	leader := leaderOf(t, servers)
	var follower *Server
	for _, s := range servers {
		if s != leader {
			follower = s
		}
	}
	// A follower forwards once it has heard from the leader.
	wait.For(t, "the follower to know the leader", func() (bool, string) {
		addr, _ := follower.raft.LeaderWithID()
		return addr != "", "no leader known"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := client(t, follower).Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{testJob("a"), testJob("b")}})
	if err != nil {
		t.Fatalf("submit through follower: %v", err)
	}
	for _, r := range resp.GetResults() {
		if r.GetError() != "" || r.GetAction() != "created" {
			t.Fatalf("submit result %+v, want created", r)
		}
	}
	// A second create of the same name is refused, the other object of the
	// request still applies.
	resp, err = client(t, follower).Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{testJob("a"), testJob("c")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetResults()[0]; got.GetCode() != "AlreadyExists" || got.GetError() != `jobs.batch "a" already exists` {
		t.Fatalf("duplicate create result = %+v", got)
	}
	if got := resp.GetResults()[1]; got.GetAction() != "created" {
		t.Fatalf("second object result = %+v, want created", got)
	}

	// Job a ends, as the controller ends one at its deadline. Finished Jobs
	// are stored compressed, and snapshots carry them so.
	a := leader.fsm.State().Job("", "a")
	failed := &api.JobStatus{StartTime: a.GetMetadata().GetCreationTimestamp(), Conditions: []*api.JobCondition{{
		Type: api.JobFailed, Status: "True", Reason: "DeadlineExceeded",
		Message: "Job was active longer than specified deadline", LastTransitionTime: timestamppb.Now()}}}
	refused, err := leader.proposer.Propose(ctx, (&api.UpdateJobStatus{Name: "a", Uid: a.GetMetadata().GetUid(), Status: failed}).Command())
	if err != nil || refused[0] != nil {
		t.Fatalf("end job a: %v %v", err, refused)
	}

	wait.For(t, "replicas agree", func() (bool, string) {
		d := stateDigest(servers[0])
		for _, s := range servers[1:] {
			if stateDigest(s) != d {
				return false, "digests differ"
			}
		}
		return servers[0].fsm.State().Job("", "c") != nil, "job c missing"
	})

	// Snapshot every server, then restart them all from disk: the state
	// comes back from snapshot plus log, identical everywhere.
	for _, s := range servers {
		if err := s.raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot %s: %v", s.Name(), err)
		}
	}
	before := stateDigest(servers[0])
	endedA := servers[0].fsm.State().Job("", "a")
	if _, done := api.JobFinished(endedA); !done {
		t.Fatalf("job a is not finished before the restart: %v", endedA.GetStatus())
	}
	for _, s := range servers {
		s.Shutdown()
	}
	var restarted []*Server
	for _, cfg := range cfgs {
		s, err := New(cfg)
		if err != nil {
			t.Fatalf("restart %s: %v", cfg.Name, err)
		}
		t.Cleanup(s.Shutdown)
		restarted = append(restarted, s)
	}
	leaderOf(t, restarted)
	wait.For(t, "state restored on every server", func() (bool, string) {
		for _, s := range restarted {
			if d := stateDigest(s); !strings.HasPrefix(d, strings.SplitN(before, " ", 2)[0]) || s.fsm.State().Job("", "c") == nil {
				return false, s.Name() + " has " + strings.SplitN(d, " ", 2)[0]
			}
		}
		return true, ""
	})
	for _, s := range restarted {
		if got := s.fsm.State().Job("", "a"); !proto.Equal(got, endedA) {
			t.Errorf("%s: finished job a after restart = %v, want %v", s.Name(), got, endedA)
		}
		for _, name := range []string{"a", "b", "c"} {
			got := s.fsm.State().Job("", name)
			if got == nil {
				t.Fatalf("%s lost job %s", s.Name(), name)
			}
			if want := servers[0].fsm.State().Job("", name); !proto.Equal(got.GetSpec(), want.GetSpec()) || got.GetMetadata().GetUid() != want.GetMetadata().GetUid() {
				t.Fatalf("%s job %s differs after restart", s.Name(), name)
			}
		}
	}
}

func TestLateServerIsAddedAndGracefulLeaveRemovesIt(t *testing.T) {
	servers, cfgs := startServers(t, 3)
	leader := leaderOf(t, servers)
	late := testConfig(t, "s4", 0, t.TempDir())
	late.Join = []string{cfgs[0].GossipAddr}
	s4, err := New(late)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s4.Shutdown)
	voters := func() (map[string]bool, error) {
		f := leaderOf(t, append(servers, s4)).raft.GetConfiguration()
		if err := f.Error(); err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for _, srv := range f.Configuration().Servers {
			if srv.Suffrage == raft.Voter {
				out[string(srv.ID)] = true
			}
		}
		return out, nil
	}
	wait.For(t, "s4 added as a voter", func() (bool, string) {
		v, err := voters()
		if err != nil {
			return false, err.Error()
		}
		return v["s4"] && len(v) == 4, fmt.Sprint(v)
	})
	wait.For(t, "s4 catches up", func() (bool, string) {
		return s4.fsm.AppliedIndex() >= leader.fsm.AppliedIndex(), fmt.Sprint(s4.fsm.AppliedIndex())
	})
	s4.Leave()
	s4.Shutdown()
	wait.For(t, "s4 removed after leaving", func() (bool, string) {
		v, err := voters()
		if err != nil {
			return false, err.Error()
		}
		return !v["s4"] && len(v) == 3, fmt.Sprint(v)
	})
}

func TestServerSnapshotsByLogSize(t *testing.T) {
	cfg := testConfig(t, "s1", 1, t.TempDir())
	cfg.SnapshotLogBytes = 16 << 10
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	leaderOf(t, []*Server{s})
	// A few entries, far below Raft's own threshold of 4,096, but more
	// bytes than the server lets its log grow.
	var objs []*api.Object
	for i := range 40 {
		objs = append(objs, testJob(fmt.Sprintf("j%d", i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := client(t, s).Submit(ctx, &api.SubmitRequest{Objects: objs}); err != nil {
		t.Fatal(err)
	}
	submitted := s.fsm.AppliedIndex()
	wait.For(t, "a snapshot taken for log size", func() (bool, string) {
		metas, err := s.snaps.List()
		if err != nil {
			return false, err.Error()
		}
		if len(metas) == 0 {
			return false, fmt.Sprintf("no snapshot; %d log bytes since the last", s.fsm.LogBytesSinceSnapshot())
		}
		return metas[0].Index >= submitted, fmt.Sprintf("latest snapshot at %d, submitted at %d", metas[0].Index, submitted)
	})
}
