package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
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
	// details and messages by idempotency key
	details  map[string]map[string]string
	messages map[string]string
	bad      []string
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
		ID, Event, Name, Message string
		Details                  map[string]string
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ID != id || b.Event != req.Header.Get(notify.HeaderEvent) {
		r.bad = append(r.bad, fmt.Sprintf("%s: body %s does not match the headers (%v)", id, body, err))
	}
	r.got[id]++
	r.events[id] = b.Event + " " + b.Name
	if r.details == nil {
		r.details, r.messages = map[string]map[string]string{}, map[string]string{}
	}
	r.details[id], r.messages[id] = b.Details, b.Message
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

// newReceiver starts a webhook receiver checking the secret, and writes
// the secret to a file for the servers.
func newReceiver(t *testing.T, secret string) (*receiver, string, string) {
	t.Helper()
	r := &receiver{t: t, secret: []byte(secret), got: map[string]int{}, events: map[string]string{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return r, srv.URL, file
}

// writeNotifyConfig writes a --notify-config file.
func writeNotifyConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantDelivered fails the test unless r took exactly the events want
// (event and object name), each once, with valid signatures.
func wantDelivered(t *testing.T, who string, r *receiver, want ...string) {
	t.Helper()
	got, events, bad := r.state()
	for _, b := range bad {
		t.Errorf("%s: %s", who, b)
	}
	var list []string
	for id, e := range events {
		list = append(list, e)
		if got[id] != 1 {
			t.Errorf("%s took %s (%s) %d times, want once", who, id, e, got[id])
		}
	}
	sort.Strings(list)
	sort.Strings(want)
	if strings.Join(list, "; ") != strings.Join(want, "; ") {
		t.Errorf("%s took %q, want %q", who, list, want)
	}
}

// Each webhook gets the events it asks for, signed with its own secret:
// two from a --notify-config file with filters, and one --notify-webhook
// that gets everything, signed with --notify-secret-file. A Job whose pod
// no node can take is announced once (JobPending).
func TestNotifyWebhooksGetTheirOwnEvents(t *testing.T) {
	failures, failuresURL, failuresSecret := newReceiver(t, "failures-secret")
	pending, pendingURL, pendingSecret := newReceiver(t, "pending-secret")
	everything, everythingURL, sharedSecret := newReceiver(t, "shared-secret")
	config := writeNotifyConfig(t, fmt.Sprintf(`webhooks:
- url: %s
  secretFile: %s
  events: [JobFailed, CronJobFailed]
- url: %s
  secretFile: %s
  events: [JobPending]
`, failuresURL, failuresSecret, pendingURL, pendingSecret))
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1, ServerArgs: []string{
		"--notify-config", config, "--notify-webhook", everythingURL, "--notify-secret-file", sharedSecret, "--notify-pending-after", "2s"}})

	c.Submit(strings.Replace(jobDoc("nowhere", "", "Never", "true"), "      restartPolicy: Never", "      restartPolicy: Never\n      nodeSelector: {disk: ssd}", 1))
	wait.Within(t, 30*time.Second, "the stuck Job announced", func() (bool, string) {
		_, events, _ := pending.state()
		return len(events) == 1, fmt.Sprint(events)
	})
	// The failure comes several seconds, and so several looks for stuck
	// Jobs, later: the stuck Job is not announced again meanwhile.
	c.Submit(jobDoc("slow-fail", "backoffLimit: 0", "Never", "sleep 6; exit 1"))
	wait.Within(t, 60*time.Second, "the failure announced to both webhooks that want it", func() (bool, string) {
		_, f, _ := failures.state()
		_, e, _ := everything.state()
		return len(f) == 1 && len(e) == 2, fmt.Sprint(f, e)
	})
	wait.For(t, "every notification delivered where it is wanted", func() (bool, string) {
		r := c.CLI("notifications", "--undelivered")
		return r.Err == nil && strings.TrimSpace(r.Stdout) == "", r.Stdout + r.Stderr
	})
	wantDelivered(t, "the failures webhook", failures, "JobFailed slow-fail")
	wantDelivered(t, "the pending webhook", pending, "JobPending nowhere")
	wantDelivered(t, "the --notify-webhook", everything, "JobFailed slow-fail", "JobPending nowhere")

	pending.mu.Lock()
	defer pending.mu.Unlock()
	for id, msg := range pending.messages {
		if !strings.HasPrefix(id, "JobPending/") || !strings.HasPrefix(msg, "1 pod Pending for ") ||
			!strings.HasSuffix(msg, ": 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.") {
			t.Errorf("JobPending %s says %q, want how long and the scheduler's reason", id, msg)
		}
		if p := pending.details[id]["pod"]; !strings.HasPrefix(p, "nowhere-") {
			t.Errorf("JobPending %s names pod %q, want the Job's", id, p)
		}
	}
}

// A node lost with pods running is announced with their names.
func TestNotifyNodeNotReadyNamesItsPods(t *testing.T) {
	nodes, nodesURL, nodesSecret := newReceiver(t, "nodes-secret")
	config := writeNotifyConfig(t, fmt.Sprintf("webhooks:\n- url: %s\n  secretFile: %s\n  events: [NodeNotReady]\n", nodesURL, nodesSecret))
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1, ServerArgs: []string{"--notify-config", config}})

	c.Submit(jobDoc("sleeper", "parallelism: 2\ncompletions: 2", "Never", "sleep 600"))
	var names []string
	wait.Within(t, 30*time.Second, "both sleepers running", func() (bool, string) {
		pods, err := c.Pods("sleeper")
		names = names[:0]
		for _, p := range pods {
			if p.Status.Phase == "Running" {
				names = append(names, "default/"+p.Metadata.Name)
			}
		}
		return err == nil && len(names) == 2, fmt.Sprint(pods, err)
	})
	sort.Strings(names)
	c.Kill(c.Agents[0])
	wait.Within(t, 60*time.Second, "the lost node announced", func() (bool, string) {
		_, events, _ := nodes.state()
		return len(events) == 1, fmt.Sprint(events)
	})
	wantDelivered(t, "the nodes webhook", nodes, "NodeNotReady a1")
	nodes.mu.Lock()
	defer nodes.mu.Unlock()
	for id, d := range nodes.details {
		if d["pods"] != strings.Join(names, ",") || !strings.HasSuffix(nodes.messages[id], "2 pods were running on it") {
			t.Errorf("NodeNotReady %s: %q, pods %q, want %q", id, nodes.messages[id], d["pods"], strings.Join(names, ","))
		}
	}
}
