package fsm

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/seal"
)

func testKeys(t *testing.T) *seal.Keyring {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	k, err := seal.Parse("test", []byte(base64.StdEncoding.EncodeToString(b)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// With keys, a sealed Secret is opened as it is applied, and snapshots
// hold it sealed: the value is in neither, and a restore with the keys
// reads it back; without them the restore fails, naming the key.
func TestSealedSecretsAtRest(t *testing.T) {
	keys := testKeys(t)
	value := []byte("correct-horse-battery-staple")
	sec := &api.Secret{Metadata: &api.ObjectMeta{Name: "db", Namespace: "default", Uid: "u1"}, Data: map[string][]byte{"password": value}}
	plain, _ := proto.Marshal(sec)
	sealed, err := keys.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	cmd := (&api.UpsertSecret{Sealed: sealed, CreateOnly: true}).Command()
	entry, _ := proto.Marshal(&api.CommandBatch{Commands: []*api.Command{cmd}})
	if bytes.Contains(entry, value) {
		t.Fatal("the log entry holds the value")
	}

	h := newHarness(t)
	var failures []error
	h.f.SetKeys(keys, func(err error) { failures = append(failures, err) })
	h.must(cmd)
	if got := h.state().Secret("default", "db").GetData()["password"]; !bytes.Equal(got, value) {
		t.Fatalf("applied secret holds %q", got)
	}
	snap := persist(t, h.f)
	if bytes.Contains(snap, value) {
		t.Errorf("the snapshot holds the value")
	}
	g := New(nil)
	g.SetKeys(keys, nil)
	if err := g.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if got := g.State().Secret("default", "db").GetData()["password"]; !bytes.Equal(got, value) {
		t.Errorf("restored secret holds %q", got)
	}
	if err := New(nil).Restore(io.NopCloser(bytes.NewReader(snap))); !errors.Is(err, seal.ErrNoKey) {
		t.Errorf("restore without the key: %v", err)
	}

	// A server without the key refuses the entry and says so.
	other := newHarness(t)
	other.f.SetKeys(nil, func(err error) { failures = append(failures, err) })
	if errs := other.apply(cmd); !errors.Is(errs[0], seal.ErrNoKey) || len(failures) != 1 {
		t.Errorf("apply without the key: %v, failures %v", errs, failures)
	}
	if other.state().Secret("default", "db") != nil {
		t.Errorf("a server without the key stored the secret")
	}
	// Without keys, snapshots are written as before and read by anyone.
	plainState := newHarness(t)
	plainState.must((&api.UpsertSecret{Secret: sec, CreateOnly: true}).Command())
	if r := restored(t, plainState.f); r.State().Secret("default", "db") == nil {
		t.Errorf("a plaintext snapshot lost the secret")
	}
}
