// Package compose runs the containerised cluster demo of examples/cluster
// as a test, in a package of its own so that it runs beside the other
// end-to-end tests rather than after them.
package compose

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/test/testcluster"
)

// The containerised demo (examples/cluster) runs as users run it: 3
// servers and 3 agents in containers of their own on a private network,
// with TLS and a gossip key, through an agent killed, one cut off the
// network, the leader killed, an agent frozen and a rolling upgrade of the
// servers to a newer build; the Job ends with exactly its completions, each failure is
// recovered within seconds without a lost pod running beside its
// replacement (from the pods' own lines), and nothing the demo made is
// left behind.
func TestContainerisedClusterDemo(t *testing.T) {
	testcluster.RequireDocker(t)
	if _, err := exec.LookPath("docker-compose"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker-compose is required under CI=true: %v", err)
		}
		t.Skipf("no docker-compose: %v", err)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("/bin/busybox (Debian's busybox-static) is required under CI=true: %v", err)
		}
		t.Skipf("no /bin/busybox: %v", err)
	}
	suffix := fmt.Sprint(os.Getpid())
	image := "jobcluster-cluster-test-" + suffix + ":1"
	next := "jobcluster-cluster-test-" + suffix + ":2"
	project := "jctest" + suffix
	t.Cleanup(func() {
		_ = exec.Command("docker-compose", "-p", project, "-f", "../../examples/cluster/docker-compose.yml", "down", "-v", "--remove-orphans").Run()
		_ = exec.Command("docker", "rmi", "-f", image, next).Run()
	})
	if out, err := exec.Command("make", "-C", "../..", "cluster-image", "CLUSTER_IMAGE="+image).CombinedOutput(); err != nil {
		t.Fatalf("make cluster-image: %v\n%s", err, out)
	}
	if out, err := exec.Command("make", "-C", "../..", "cluster-image", "CLUSTER_IMAGE="+next, "CLUSTER_TAG=next").CombinedOutput(); err != nil {
		t.Fatalf("make cluster-image (the newer build): %v\n%s", err, out)
	}
	bin, err := filepath.Abs(testcluster.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("../../examples/cluster/demo.sh")
	cmd.Env = append(os.Environ(), "BIN="+bin, "PROJECT="+project, "JOBCLUSTER_IMAGE="+image, "JOBCLUSTER_NEXT_IMAGE="+next)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, text)
	}
	t.Logf("demo.sh:\n%s", text)
	for _, want := range []string{
		"3 agents Ready", "after docker kill", "after the disconnect", "reconnected and Ready",
		"leads", "after docker pause", "thawed and Ready",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the demo did not print %q", want)
		}
	}
	// The rolling upgrade: each server came back from its own volume on
	// the newer build while the Job ran on.
	for _, s := range []string{"s1", "s2", "s3"} {
		re := regexp.MustCompile(s + ` upgraded from (v[^ ]+) to (v[^ ]+) and serving`)
		m := re.FindStringSubmatch(text)
		if m == nil || strings.Contains(m[1], "-next") || !strings.Contains(m[2], "-next") {
			t.Errorf("%s was not upgraded to the newer build: %q", s, m)
		}
	}
	// From the pods' own lines: no lost pod printed after its
	// replacements began, for the agent killed, cut off and frozen.
	if n := strings.Count(text, "no overlap: "); n != 3 {
		t.Errorf("%d of 3 failures checked for overlap", n)
	}
	if !regexp.MustCompile(`(?m)^work +Complete +6/6 `).MatchString(text) {
		t.Errorf("the Job did not end Complete 6/6")
	}
	// Each recovery took seconds: pods elsewhere within 10 s of each failure.
	for _, m := range regexp.MustCompile(`its pods run elsewhere ([0-9.]+)s after`).FindAllStringSubmatch(text, -1) {
		var s float64
		if _, err := fmt.Sscan(m[1], &s); err != nil || s > 10 {
			t.Errorf("a recovery took %ss, want under 10s", m[1])
		}
	}
	if ps, _ := exec.Command("docker", "ps", "-aq", "--filter", "name="+project).Output(); len(strings.TrimSpace(string(ps))) > 0 {
		t.Errorf("the demo left containers behind: %s", ps)
	}
	if vs, _ := exec.Command("docker", "volume", "ls", "-q", "--filter", "name="+project).Output(); len(strings.TrimSpace(string(vs))) > 0 {
		t.Errorf("the demo left volumes behind: %s", vs)
	}
	if _, err := os.Stat("../../examples/cluster/tls"); err == nil {
		t.Errorf("the demo left its certificates behind")
	}
}

// TestMain removes the jobcluster binary the test built once it ran.
func TestMain(m *testing.M) {
	code := m.Run()
	testcluster.RemoveBinary()
	os.Exit(code)
}
