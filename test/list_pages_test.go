package test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// TestListsComeInPages lists seven Jobs two at a time through the CLI,
// kubectl and the Kubernetes API: each gives all seven, once each, in
// four calls.
func TestListsComeInPages(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, HTTP: true})
	var manifest, want strings.Builder
	for i := range 7 {
		fmt.Fprintf(&manifest, "---\n"+quickJob, fmt.Sprintf("p%d", i))
		fmt.Fprintf(&want, "job.batch/p%d\n", i)
	}
	c.Submit(manifest.String())

	listCalls := func() float64 {
		t.Helper()
		s, err := scrapeMetrics(t, c.Servers[0])
		if err != nil {
			t.Fatal(err)
		}
		return s.sum("jobcluster_grpc_server_handled_total", "grpc_method", "List", "grpc_code", "OK")
	}
	for _, tt := range []struct {
		chunk string
		calls float64
	}{{"2", 4}, {"7", 1}, {"0", 1}} {
		before := listCalls()
		if out := c.MustCLI("get", "jobs", "--chunk-size", tt.chunk, "-o", "name"); out != want.String() {
			t.Errorf("get jobs --chunk-size %s printed %q, want %q", tt.chunk, out, want.String())
		}
		if n := listCalls() - before; n != tt.calls {
			t.Errorf("get jobs --chunk-size %s made %v List calls, want %v", tt.chunk, n, tt.calls)
		}
	}
	if r := c.CLI("get", "jobs", "--chunk-size", "-1"); r.Err == nil || !strings.Contains(r.Stderr, "--chunk-size: -1 is negative") {
		t.Errorf("get jobs --chunk-size -1: %v, stderr %q; want an error naming --chunk-size", r.Err, r.Stderr)
	}

	k := newKubectl(t, c.Servers[0].HTTPAddr)
	out, err := k.run("get", "jobs", "--chunk-size=2", "-o", "name", "-v=6")
	var names, pages []string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "job.batch/"):
			names = append(names, line)
		case strings.Contains(line, "/jobs?") && strings.Contains(line, "limit=2"):
			pages = append(pages, line)
		}
	}
	if err != nil || strings.Join(names, "\n")+"\n" != want.String() || len(pages) != 4 {
		t.Errorf("kubectl get jobs --chunk-size=2: %v, %d names, %d requests with limit=2; want 7 names in 4 requests:\n%s", err, len(names), len(pages), out)
	}
	var list struct {
		Metadata struct{ Continue string }
		Items    []json.RawMessage
	}
	if err := json.Unmarshal([]byte(k.must("get", "--raw", "/apis/batch/v1/namespaces/default/jobs?limit=3")), &list); err != nil ||
		len(list.Items) != 3 || list.Metadata.Continue == "" {
		t.Errorf("a page of 3 through the API: %v, %d items, continue %q", err, len(list.Items), list.Metadata.Continue)
	}
	if out, err := k.run("get", "--raw", "/apis/batch/v1/namespaces/default/jobs?limit=x"); err == nil || !strings.Contains(out, `limit: "x" is not a whole number`) {
		t.Errorf("limit=x through the API: %v %q; want it refused naming limit", err, out)
	}

	// get -w lists in pages too, then watches from the first page's
	// index.
	before := listCalls()
	w := c.StartCLI("get", "jobs", "-w", "--chunk-size", "2", "-o", "name")
	wait.For(t, "the watch's list of the seven Jobs in four pages", func() (bool, string) {
		return w.Stdout() == want.String() && listCalls()-before == 4, fmt.Sprintf("%q after %v List calls", w.Stdout(), listCalls()-before)
	})
	c.Submit(fmt.Sprintf(quickJob, "p7"))
	wait.For(t, "the watch to print the Job made after its list", func() (bool, string) {
		return strings.HasPrefix(w.Stdout(), want.String()) && strings.Contains(w.Stdout(), "job.batch/p7\n"), w.Stdout()
	})
}
