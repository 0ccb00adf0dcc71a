package test

import (
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// An agent started under the name of a live server is refused at start
// with the hint to set --name, and the server keeps its name.
func TestAgentUnderATakenNameExitsWithAHint(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 0})
	s1 := c.Servers[0]
	n := c.NewAgentNode("impostor")
	c.StartAgent(n, c.JoinArgs(n, "--name", "s1")) // the last --name wins
	wait.For(t, "the agent named s1 to exit", func() (bool, string) { return !n.Running(), "still running" })
	log, _ := n.Log()
	if !strings.Contains(log, `node name already taken: member "s1" at `) || !strings.Contains(log, "give this node another --name") {
		t.Errorf("agent log:\n%s\nwant the taken name and the --name hint", log)
	}
	ms, err := c.Members(s1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Name != "s1" || ms[0].Role != "server" {
		t.Errorf("members after the refused agent: %+v, want s1 the server alone", ms)
	}
}
