package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/notify"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// receiver is a webhook on 127.0.0.1 that checks signatures, records what
// it takes, and refuses everything while down.
type receiver struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	down   bool
	got    map[string]int // deliveries by idempotency key
	events map[string]string
	// details by idempotency key
	details map[string]map[string]string
	bad     []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id := req.Header.Get(notify.HeaderDelivery)
	if sig := req.Header.Get(notify.HeaderSignature); sig != notify.Sign(r.secret, body) {
		r.bad = append(r.bad, fmt.Sprintf("%s: signature %q does not sign the body", id, sig))
	}
	var b struct {
		ID, Event, Name string
		Details         map[string]string
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ID != id || b.Event != req.Header.Get(notify.HeaderEvent) {
		r.bad = append(r.bad, fmt.Sprintf("%s: body %s does not match the headers (%v)", id, body, err))
	}
	r.got[id]++
	r.events[id] = b.Event + " " + b.Name
	if r.details == nil {
		r.details = map[string]map[string]string{}
	}
	r.details[id] = b.Details
	if b.Name == "hook-fail" && (b.Details["exitCode"] != "3" || b.Details["lastLines"] != "giving up\n") {
		r.bad = append(r.bad, fmt.Sprintf("%s: details %v, want exit code 3 and the last line", id, b.Details))
	}
}

func (r *receiver) state() (map[string]int, map[string]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	got, events := map[string]int{}, map[string]string{}
	for k, v := range r.got {
		got[k] = v
	}
	for k, v := range r.events {
		events[k] = v
	}
	return got, events, append([]string(nil), r.bad...)
}

func (r *receiver) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// A webhook gets exactly the notifications that are due, signed; while it
// fails it gets them later, after it recovers; a leader kill in between
// loses none (a duplicate carries the same idempotency key).
func TestWebhooksGetEveryNotificationSigned(t *testing.T) {
	rcv := &receiver{t: t, secret: []byte("hook-secret"), got: map[string]int{}, events: map[string]string{}}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, rcv.secret, 0o600); err != nil {
		t.Fatal(err)
	}
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 1,
		ServerArgs: []string{"--notify-webhook", srv.URL, "--notify-secret-file", secretFile}})

	c.Submit(jobDoc("hook-fail", "backoffLimit: 0", "Never", "echo giving up; exit 3"))
	c.Submit(jobDoc("hook-ok", "", "Never", "true")) // success: not announced by default
	wait.Within(t, 30*time.Second, "the failed Job's notification", func() (bool, string) {
		_, events, _ := rcv.state()
		return len(events) == 1, fmt.Sprint(events)
	})

	// The receiver goes down; a second failure waits for it, across a
	// leader kill.
	rcv.setDown(true)
	c.Submit(jobDoc("hook-fail-2", "backoffLimit: 0", "Never", "exit 4"))
	wait.Within(t, 30*time.Second, "a failed delivery attempt on record", func() (bool, string) {
		out := c.CLI("notifications", "--undelivered").Stdout
		return strings.Contains(out, "retrying"), out
	})
	c.Kill(c.Leader())
	c.WaitForLeader()
	rcv.setDown(false)
	wait.Within(t, 60*time.Second, "the second failure delivered after the receiver recovered", func() (bool, string) {
		_, events, _ := rcv.state()
		return len(events) == 2, fmt.Sprint(events)
	})
	got, events, bad := rcv.state()
	for _, b := range bad {
		t.Error(b)
	}
	want := map[string]bool{"JobFailed hook-fail": true, "JobFailed hook-fail-2": true}
	for id, e := range events {
		if !want[e] {
			t.Errorf("unexpected notification %s: %s", id, e)
		}
		if got[id] > 2 {
			t.Errorf("%s delivered %d times", id, got[id])
		}
	}
	wait.For(t, "every notification recorded as delivered", func() (bool, string) {
		r := c.CLI("notifications", "--undelivered")
		return strings.TrimSpace(r.Stdout) == "", r.Stdout + r.Stderr
	})
	if out := c.MustCLI("notifications"); !strings.Contains(out, "JobFailed") || !strings.Contains(out, "default/job/hook-fail") {
		t.Errorf("notifications:\n%s", out)
	}
}

// Each webhook of a --notify-config file gets the events it asks for,
// signed with its own secret: a Job stuck Pending is announced once
// (JobPending), and a lost node's notification names the pods it ran.
func TestWebhookFiltersPendingJobsAndLostNodes(t *testing.T) {
	pending := &receiver{t: t, secret: []byte("pending-secret"), got: map[string]int{}, events: map[string]string{}}
	nodes := &receiver{t: t, secret: []byte("nodes-secret"), got: map[string]int{}, events: map[string]string{}}
	pendingSrv, nodesSrv := httptest.NewServer(pending), httptest.NewServer(nodes)
	t.Cleanup(pendingSrv.Close)
	t.Cleanup(nodesSrv.Close)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	config := write("notify.yaml", fmt.Sprintf(`webhooks:
- url: %s
  secretFile: %s
  events: [JobPending]
- url: %s
  secretFile: %s
  events: [NodeNotReady]
`, pendingSrv.URL, write("p.secret", "pending-secret"), nodesSrv.URL, write("n.secret", "nodes-secret")))
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1,
		ServerArgs: []string{"--notify-config", config, "--notify-pending-after", "2s"}})

	c.Submit(strings.Replace(jobDoc("nowhere", "", "Never", "true"), "      restartPolicy: Never", "      restartPolicy: Never\n      nodeSelector: {disk: ssd}", 1))
	c.Submit(jobDoc("sleeper", "", "Never", "sleep 600"))
	wait.Within(t, 30*time.Second, "the stuck Job's notification", func() (bool, string) {
		_, events, _ := pending.state()
		return len(events) == 1, fmt.Sprint(events)
	})
	wait.For(t, "the sleeper to run", func() (bool, string) {
		pods, err := c.Pods("sleeper")
		return err == nil && len(pods) == 1 && pods[0].Status.Phase == "Running", fmt.Sprint(pods, err)
	})
	pods, _ := c.Pods("sleeper")
	c.Kill(c.Agents[0])
	wait.Within(t, 60*time.Second, "the lost node's notification", func() (bool, string) {
		_, events, _ := nodes.state()
		return len(events) == 1, fmt.Sprint(events)
	})
	got, events, bad := pending.state()
	for id, e := range events {
		if e != "JobPending nowhere" || got[id] != 1 {
			t.Errorf("the pending webhook got %q %d times, want JobPending nowhere once", e, got[id])
		}
	}
	_, nodeEvents, nodeBad := nodes.state()
	for id, e := range nodeEvents {
		if e != "NodeNotReady a1" {
			t.Errorf("the nodes webhook got %q", e)
		}
		nodes.mu.Lock()
		podList := nodes.details[id]["pods"]
		nodes.mu.Unlock()
		if podList != "default/"+pods[0].Metadata.Name {
			t.Errorf("NodeNotReady names pods %q, want default/%s", podList, pods[0].Metadata.Name)
		}
	}
	for _, b := range append(bad, nodeBad...) {
		t.Error(b)
	}
}
