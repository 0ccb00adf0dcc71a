package test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

var secretRE = regexp.MustCompile(`SecretID:\s+(\S+)`)

func secretOf(t *testing.T, out string) string {
	t.Helper()
	m := secretRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no SecretID in:\n%s", out)
	}
	return m[1]
}

// With TLS, a gossip key and ACLs, the README's Job runs to Complete with
// a token scoped to its namespace, and every refusal is asserted from
// outside, with the state unchanged and the refusals in the audit trail.
func TestACLTokensScopeWhatClientsMayDo(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2, TLS: true, GossipKey: true, ACL: true})
	as := func(token string, args ...string) testcluster.Result {
		return c.CLI(append([]string{"--token", token}, args...)...)
	}

	if r := as("", "get", "jobs"); r.Err == nil || !strings.Contains(r.Stderr, `permission denied: anonymous lacks read on namespace "default"`) {
		t.Fatalf("get jobs without a token: %v %q", r.Err, r.Stderr)
	}
	if out := strings.TrimSpace(as("", "acl", "whoami").Stdout); out != "anonymous via client certificate test" {
		t.Errorf("whoami without a token: %q", out)
	}
	mgmt := c.ManagementToken // made by acl bootstrap
	if r := c.CLI("acl", "bootstrap"); r.Err == nil || !strings.Contains(r.Stderr, "ACL bootstrap already done") {
		t.Errorf("second bootstrap: %v %q", r.Err, r.Stderr)
	}

	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, rules := range map[string]string{
		"ci":     "namespaces:\n  default: [read, submit, logs]\n",
		"viewer": "namespaces:\n  \"*\": [read]\n",
	} {
		if r := as(mgmt, "acl", "policy", "apply", name, write(name+".yaml", rules)); r.Err != nil {
			t.Fatalf("policy apply %s: %s", name, r.Stderr)
		}
	}
	ci := secretOf(t, as(mgmt, "acl", "token", "create", "--policy", "ci", "--description", "ci").Stdout)
	viewer := secretOf(t, as(mgmt, "acl", "token", "create", "--policy", "viewer", "--description", "viewer").Stdout)
	shortLived := secretOf(t, as(mgmt, "acl", "token", "create", "--policy", "ci", "--description", "short", "--ttl", "1s").Stdout)

	// The README's Job, its sleep shortened, runs with the scoped token.
	readme, err := os.ReadFile("../examples/batch-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	job := strings.Replace(string(readme), "sleep 120", "sleep 1", 1)
	if r := c.CLIAt(c.Addrs(), job, "--token", ci, "submit", "-"); r.Err != nil || strings.TrimSpace(r.Stdout) != "job.batch/batch-job created" {
		t.Fatalf("submit with the ci token: %v %q %q", r.Err, r.Stdout, r.Stderr)
	}
	wait.Within(t, 30*time.Second, "batch-job to complete", func() (bool, string) {
		r := as(ci, "get", "job", "batch-job", "-o", "jsonpath={.status.succeeded}")
		return r.Stdout == "1", r.Stdout + r.Stderr
	})
	if out := as(ci, "logs", "job/batch-job").Stdout; !strings.Contains(out, "Finished succesfully") {
		t.Errorf("logs with the ci token: %q", out)
	}

	// A read-only token cannot submit, and nothing is created.
	other := strings.Replace(job, "name: batch-job", "name: sneaky", 1)
	if r := c.CLIAt(c.Addrs(), other, "--token", viewer, "submit", "-"); r.Err == nil ||
		!strings.Contains(r.Stderr, `permission denied: token "viewer" lacks submit on namespace "default"`) {
		t.Errorf("submit with the viewer token: %v %q", r.Err, r.Stderr)
	}
	if r := as(viewer, "get", "job", "sneaky"); !strings.Contains(r.Stderr, `jobs.batch "sneaky" not found`) {
		t.Errorf("the refused Job exists: %q %q", r.Stdout, r.Stderr)
	}
	// A token for namespace default cannot read another namespace's logs.
	if r := c.CLIAt(c.Addrs(), strings.Replace(job, "name: batch-job", "name: theirs", 1), "--token", mgmt, "submit", "-n", "team-b", "-"); r.Err != nil {
		t.Fatalf("submit to team-b: %s", r.Stderr)
	}
	if r := as(ci, "logs", "-n", "team-b", "job/theirs"); r.Err == nil || !strings.Contains(r.Stderr, `lacks read on namespace "team-b"`) {
		t.Errorf("ci reading team-b: %v %q", r.Err, r.Stderr)
	}
	// Nodes and members are not a namespace's: ci may not list them.
	if r := as(ci, "members"); r.Err == nil || !strings.Contains(r.Stderr, `token "ci" lacks operator`) {
		t.Errorf("members with the ci token: %v %q", r.Err, r.Stderr)
	}
	// An expired token is refused.
	wait.For(t, "the short-lived token to expire", func() (bool, string) {
		r := as(shortLived, "get", "jobs")
		return r.Err != nil && strings.Contains(r.Stderr, `token "short" expired at`), r.Stderr
	})
	// An unknown secret is refused as such.
	if r := as("00000000-0000-4000-8000-000000000000", "get", "jobs"); r.Err == nil || !strings.Contains(r.Stderr, "ACL token not found") {
		t.Errorf("unknown token: %v %q", r.Err, r.Stderr)
	}

	wait.For(t, "the audit trail to hold the allowed and the denied submit", func() (bool, string) {
		out := as(mgmt, "audit", "--limit", "1000").Stdout
		var ciSubmit, viewerDenied, teamB bool
		for _, l := range strings.Split(out, "\n") {
			ciSubmit = ciSubmit || strings.Contains(l, `token "ci"`) && strings.Contains(l, "Submit job/batch-job (default)") && strings.HasSuffix(strings.TrimSpace(l), "allowed")
			viewerDenied = viewerDenied || strings.Contains(l, `token "viewer"`) && strings.Contains(l, `denied: permission denied: token "viewer" lacks submit on namespace "default"`)
			teamB = teamB || strings.Contains(l, "Submit job/theirs (team-b)")
		}
		return ciSubmit && viewerDenied && teamB, out
	})
	if r := as(ci, "audit"); r.Err == nil || !strings.Contains(r.Stderr, "lacks operator") {
		t.Errorf("audit with the ci token: %v %q", r.Err, r.Stderr)
	}
}
