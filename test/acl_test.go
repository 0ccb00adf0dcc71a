package test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
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
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2, TLS: true, GossipKey: true, ACL: true, HTTP: true})
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

	// The HTTP API takes the same tokens as Authorization: Bearer, over
	// mutual TLS, and refuses in the same words.
	httpc := httpsClient(t, c.CA.Issue("client", "test"))
	jobURL := "https://" + c.Servers[0].HTTPAddr + "/apis/batch/v1/namespaces/default/jobs/batch-job"
	if code, body := bearerGet(t, httpc, jobURL, ci); code != http.StatusOK || !strings.Contains(body, `"name": "batch-job"`) {
		t.Errorf("GET the Job over HTTP with the ci token: %d %s", code, body)
	}
	if code, body := bearerGet(t, httpc, jobURL, ""); code != http.StatusForbidden || !strings.Contains(body, `anonymous lacks read on namespace \"default\"`) {
		t.Errorf("GET the Job over HTTP without a token: %d %s", code, body)
	}
	theirs := "https://" + c.Servers[1].HTTPAddr + "/api/v1/namespaces/team-b/pods"
	if code, body := bearerGet(t, httpc, theirs, ci); code != http.StatusForbidden || !strings.Contains(body, `token \"ci\" lacks read on namespace \"team-b\"`) {
		t.Errorf("GET team-b's pods over HTTP with the ci token: %d %s", code, body)
	}
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(jobURL); err == nil {
		t.Errorf("HTTP without a client certificate was served")
	}

	// Policies and tokens are listed (secrets never) and deleted; a
	// deleted token is refused at once, and so is what a deleted policy
	// granted.
	policies := as(mgmt, "acl", "policy", "list").Stdout
	for _, want := range []string{"ci ", "default:logs+read+submit", "viewer ", "*:read"} {
		if !strings.Contains(policies, want) {
			t.Errorf("acl policy list lacks %q:\n%s", want, policies)
		}
	}
	tokens := as(mgmt, "acl", "token", "list").Stdout
	for _, secret := range []string{ci, viewer, mgmt} {
		if strings.Contains(tokens, secret) {
			t.Errorf("acl token list shows a secret:\n%s", tokens)
		}
	}
	viewerAccessor := ""
	for _, l := range strings.Split(tokens, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[1] == "viewer" {
			viewerAccessor = f[0]
		}
	}
	if viewerAccessor == "" || !strings.Contains(tokens, "(management)") {
		t.Fatalf("acl token list lacks the viewer or the management token:\n%s", tokens)
	}
	if r := as(ci, "acl", "token", "delete", viewerAccessor); r.Err == nil || !strings.Contains(r.Stderr, `token "ci" lacks operator`) {
		t.Errorf("ci deleting a token: %v %q", r.Err, r.Stderr)
	}
	if r := as(mgmt, "acl", "token", "delete", viewerAccessor); r.Err != nil || strings.TrimSpace(r.Stdout) != "acltoken/"+viewerAccessor+" deleted" {
		t.Errorf("acl token delete: %v %q %q", r.Err, r.Stdout, r.Stderr)
	}
	if r := as(viewer, "get", "jobs"); r.Err == nil || !strings.Contains(r.Stderr, "ACL token not found") {
		t.Errorf("the deleted viewer token: %v %q", r.Err, r.Stderr)
	}
	if strings.Contains(as(mgmt, "acl", "token", "list").Stdout, viewerAccessor) {
		t.Errorf("the deleted token is still listed")
	}
	if r := as(mgmt, "acl", "policy", "delete", "ci"); r.Err != nil || strings.TrimSpace(r.Stdout) != "aclpolicy/ci deleted" {
		t.Errorf("acl policy delete: %v %q %q", r.Err, r.Stdout, r.Stderr)
	}
	if r := as(ci, "get", "jobs"); r.Err == nil || !strings.Contains(r.Stderr, `token "ci" lacks read on namespace "default"`) {
		t.Errorf("ci after its policy was deleted: %v %q", r.Err, r.Stderr)
	}
	if strings.Contains(as(mgmt, "acl", "policy", "list").Stdout, "ci ") {
		t.Errorf("the deleted policy is still listed")
	}
}

// httpsClient speaks mutual TLS with the cluster's CA and cert. Server
// certificates made without --additional-ipaddress name localhost, so
// the client checks that name, as kubectl's tls-server-name does.
func httpsClient(t *testing.T, cert testcluster.Cert) *http.Client {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(cert.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS13},
	}}
}

// bearerGet GETs url with a bearer token (none if empty).
func bearerGet(t *testing.T, c *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
