package test

import (
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/test/testcluster"
)

// Each everyday verb prints through our CLI what the real kubectl prints
// for the same request against the same cluster; only the object names
// differ, one set made by each.
func TestCLIVerbsPrintAsKubectlDoes(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1, HTTP: true})
	k := newKubectl(t, c.Servers[0].HTTPAddr)
	trim := func(s string) string {
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		for i, l := range lines {
			lines[i] = strings.TrimRight(l, " ")
		}
		return strings.Join(lines, "\n")
	}
	// same runs one command both ways, ours on objects named "ours-*" and
	// kubectl's on "theirs-*", and compares the outputs with the names
	// swapped back.
	same := func(args ...string) {
		t.Helper()
		ourArgs := make([]string, len(args))
		theirArgs := make([]string, len(args))
		for i, a := range args {
			ourArgs[i] = strings.ReplaceAll(a, "NAME", "ours")
			theirArgs[i] = strings.ReplaceAll(a, "NAME", "theirs")
		}
		r := c.CLI(ourArgs...)
		theirs, err := k.run(theirArgs...)
		ours := r.Stdout + r.Stderr
		if (r.Err == nil) != (err == nil) {
			t.Errorf("%s: jobcluster %v, kubectl %v\njobcluster: %s\nkubectl: %s", strings.Join(args, " "), r.Err, err, ours, theirs)
			return
		}
		if got, want := trim(strings.ReplaceAll(ours, "ours", "NAME")), trim(strings.ReplaceAll(theirs, "theirs", "NAME")); got != want {
			t.Errorf("%s:\njobcluster printed:\n%s\nkubectl printed:\n%s", strings.Join(args, " "), got, want)
		}
	}

	same("create", "job", "NAME", "--image=busybox", "--", "echo", "hello")
	same("create", "cronjob", "NAME-cron", "--image=busybox", "--schedule=0 3 * * *", "--", "date")
	same("create", "configmap", "NAME-cm", "--from-literal=a=1")
	same("wait", "--for=condition=complete", "job/NAME", "--timeout=30s")
	same("label", "job", "NAME", "team=ml")
	same("label", "job", "NAME", "team=ops")
	same("label", "job", "NAME", "team=ops", "--overwrite")
	same("annotate", "cronjob", "NAME-cron", "owner=ops")
	same("label", "job", "NAME", "team-")
	same("get", "job", "NAME", "-o", "name")
	same("get", "job", "NAME", "-o", "jsonpath={.metadata.name} {.status.succeeded} {.spec.template.spec.containers[0].command}")
	same("get", "job", "NAME", "-o", "custom-columns=NAME:.metadata.name,DONE:.status.succeeded,IMAGE:.spec.template.spec.containers[0].image")
	same("get", "cronjob", "NAME-cron", "-o", "custom-columns=SCHEDULE:.spec.schedule,OWNER:.metadata.annotations.owner", "--no-headers")
	same("get", "job", "NAME-missing")
	same("delete", "configmap", "NAME-cm")
	same("delete", "cronjob", "NAME-cron")
	same("delete", "job", "NAME")
	same("wait", "--for=delete", "job/NAME", "--timeout=10s")
}
