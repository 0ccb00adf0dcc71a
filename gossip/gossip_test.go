package gossip

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func start(t *testing.T, name, role string, join ...string) *Gossip {
	t.Helper()
	addr := freeAddr(t)
	g, err := Start(Config{
		Name:     name,
		BindAddr: addr,
		Join:     join,
		Meta:     &api.MemberMeta{Role: role, RpcAddr: "127.0.0.1:1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Shutdown() })
	return g
}

func statusOf(g *Gossip, name string) string {
	for _, m := range g.Members() {
		if m.Name == name {
			return m.Status
		}
	}
	return "unknown"
}

func TestMembersSeeJoinFailureAndLeave(t *testing.T) {
	s1 := start(t, "s1", RoleServer)
	// a2 starts before anyone it could join answers on its second address:
	// joining must keep retrying in the background.
	a1 := start(t, "a1", RoleAgent, s1.ml.LocalNode().Address())
	a2 := start(t, "a2", RoleAgent, freeAddr(t), s1.ml.LocalNode().Address())

	wait.For(t, "all three members alive on s1", func() (bool, string) {
		got := fmt.Sprint(statusOf(s1, "s1"), statusOf(s1, "a1"), statusOf(s1, "a2"))
		return got == "alivealivealive", got
	})
	if got := a1.AliveServers(); len(got) != 1 || got[0].Name != "s1" || got[0].Meta.GetRpcAddr() != "127.0.0.1:1" {
		t.Fatalf("AliveServers on a1 = %+v, want s1 with its rpc address", got)
	}

	if err := a1.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	a1.Shutdown()
	wait.For(t, "a1 left", func() (bool, string) {
		s := statusOf(s1, "a1")
		return s == StatusLeft, s
	})

	a2.Shutdown()
	wait.For(t, "a2 failed", func() (bool, string) {
		s := statusOf(s1, "a2")
		return s == StatusFailed, s
	})
}

func TestMetadataTooLargeIsRefused(t *testing.T) {
	labels := map[string]string{}
	for i := 0; i < 40; i++ {
		labels[fmt.Sprintf("label-%02d", i)] = "some-fairly-long-value"
	}
	_, err := Start(Config{Name: "x", BindAddr: freeAddr(t), Meta: &api.MemberMeta{Role: RoleAgent, Labels: labels}})
	if err == nil {
		t.Fatal("Start accepted metadata larger than memberlist carries")
	}
}

// A node joining under a name a live member already uses is refused at
// start, naming the member's address; the member stays as it was.
func TestJoiningUnderATakenNameIsRefused(t *testing.T) {
	s1 := start(t, "vm", RoleServer)
	seed := s1.ml.LocalNode().Address()
	g, err := Start(Config{Name: "vm", BindAddr: freeAddr(t), Join: []string{seed}, Meta: &api.MemberMeta{Role: RoleAgent}})
	if err == nil {
		g.Shutdown()
		t.Fatal("a second member named vm started")
	}
	if !errors.Is(err, ErrNameTaken) || !strings.Contains(err.Error(), `member "vm" at `+seed+" is alive; give this node another --name") {
		t.Fatalf("err = %v, want the name taken by %s", err, seed)
	}
	a1 := start(t, "a1", RoleAgent, seed)
	wait.For(t, "s1 to stay the one vm, and a1 to join", func() (bool, string) {
		got := fmt.Sprint(statusOf(s1, "vm"), statusOf(s1, "a1"), len(s1.Members()))
		return got == "alivealive2", got
	})
	if got := a1.Members(); len(got) != 2 {
		t.Errorf("a1 sees %d members, want vm and itself", len(got))
	}
}
