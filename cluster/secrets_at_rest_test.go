package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/seal"
)

func testKeyring(t *testing.T) *seal.Keyring {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	k, err := seal.Parse("test.key", []byte(base64.StdEncoding.EncodeToString(b)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func secretObject(name, value string) *api.Object {
	return &api.Object{Kind: &api.Object_Secret{Secret: &api.Secret{
		ApiVersion: "v1", Kind: "Secret",
		Metadata: &api.ObjectMeta{Name: name, Namespace: "default"},
		Data:     map[string][]byte{"password": []byte(value)},
	}}}
}

// raftLog is every entry's data in a server's Raft log.
func raftLog(t *testing.T, store *raft.InmemStore) [][]byte {
	t.Helper()
	first, _ := store.FirstIndex()
	last, _ := store.LastIndex()
	var out [][]byte
	for i := first; i <= last && i > 0; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			t.Fatalf("log entry %d: %v", i, err)
		}
		out = append(out, l.Data)
	}
	return out
}

// A Secret submitted to a follower is sealed by the leader before it
// enters the log: no server's log or snapshot holds its value, and every
// server serves it.
func TestSecretsSealedInTheRaftLog(t *testing.T) {
	keys := testKeyring(t)
	c := newTestCluster(t, harnessOptions{servers: 3, secretKeys: keys})
	value := "s3cret-in-cluster-test"
	encoded := base64.StdEncoding.EncodeToString([]byte(value))
	submit(t, c.follower(), secretObject("db", value))
	for _, s := range c.running() {
		wait.For(t, s.cfg.Name+" to hold the secret", func() (bool, string) {
			got := s.fsm.State().Secret("default", "db")
			return string(got.GetData()["password"]) == value, fmt.Sprintf("secret %v", got)
		})
	}

	for _, n := range c.nodes {
		sealed := 0
		for _, data := range raftLog(t, n.store) {
			if bytes.Contains(data, []byte(value)) || bytes.Contains(data, []byte(encoded)) {
				t.Errorf("%s's Raft log holds the secret's value", n.cfg.Name)
			}
			var batch api.CommandBatch
			if proto.Unmarshal(data, &batch) != nil {
				continue // a configuration entry
			}
			for _, cmd := range batch.GetCommands() {
				if up := cmd.GetUpsertSecret(); up != nil {
					if up.GetSecret() != nil || seal.KeyOf(up.GetSealed()) != keys.KeyID() {
						t.Errorf("%s's log holds an upsert not sealed with key %s: %v", n.cfg.Name, keys.KeyID(), up)
					}
					sealed++
				}
			}
		}
		if sealed != 1 {
			t.Errorf("%s's log holds %d sealed upserts, want 1", n.cfg.Name, sealed)
		}
	}

	leader := c.leader()
	if err := leader.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	var n *testNode
	for _, node := range c.nodes {
		if node.server == leader {
			n = node
		}
	}
	metas, err := n.snaps.List()
	if err != nil || len(metas) == 0 {
		t.Fatalf("list snapshots: %v, %d", err, len(metas))
	}
	_, rc, err := n.snaps.Open(metas[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(snap, []byte(value)) || bytes.Contains(snap, []byte(encoded)) {
		t.Errorf("the snapshot holds the secret's value")
	}
}

// A server that was not given the key the leader seals with stops at the
// first sealed Secret it applies, naming the key and the flag, rather
// than drift.
func TestServerWithoutTheSecretKeyStops(t *testing.T) {
	keys := testKeyring(t)
	c := newTestCluster(t, harnessOptions{servers: 1, secretKeys: keys})
	submit(t, c.leader(), secretObject("db", "s3cret"))
	logs := &lockedBuffer{}
	c.nodes = append(c.nodes, c.newNode("s2", 0, 0, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))))
	s2 := c.start(len(c.nodes) - 1)
	select {
	case code := <-c.nodes[1].exits:
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
	case <-testCtx(t).Done():
		t.Fatalf("s2, without the key, did not stop; its errors: %s", logs)
	}
	for _, part := range []string{"key " + keys.KeyID(), "--encryption-key-file"} {
		if !strings.Contains(logs.String(), part) {
			t.Errorf("s2's error log does not name %q: %s", part, logs)
		}
	}
	if s2.fsm.State().Secret("default", "db") != nil {
		t.Errorf("s2 stored the secret it could not open")
	}
}

// lockedBuffer is a log destination servers' goroutines share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
