package fsm

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/seal"
)

// newKey is a key file's line, as `jobcluster keygen` prints it.
func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func keyring(t *testing.T, lines ...string) *seal.Keyring {
	t.Helper()
	k, err := seal.Parse("test.key", []byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Distinctive parts of the Secret the tests store: none of them may reach
// a log entry or snapshot written with keys.
const (
	secretValue      = "correct-horse-battery-staple"
	secretString     = "string-data-in-the-clear"
	secretAnnotation = "annotated-with-something-private"
)

func testSecret(name string) *api.Secret {
	return &api.Secret{
		ApiVersion: "v1", Kind: "Secret",
		Metadata: &api.ObjectMeta{Namespace: "default", Name: name, Uid: "uid-" + name,
			Annotations: map[string]string{"note": secretAnnotation}},
		Data:       map[string][]byte{"password": []byte(secretValue)},
		StringData: map[string]string{"token": secretString},
	}
}

// sealedUpsert is the command a leader with keys proposes (see
// cluster.Server.upsertSecret).
func sealedUpsert(t *testing.T, keys *seal.Keyring, sec *api.Secret, createOnly bool) *api.Command {
	t.Helper()
	plain, err := proto.MarshalOptions{Deterministic: true}.Marshal(sec)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := keys.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	return (&api.UpsertSecret{Sealed: sealed, CreateOnly: createOnly}).Command()
}

// showsSecret names the first distinctive part of testSecret found in b.
func showsSecret(b []byte) string {
	for _, s := range []string{secretValue, base64.StdEncoding.EncodeToString([]byte(secretValue)), secretString, secretAnnotation} {
		if bytes.Contains(b, []byte(s)) {
			return s
		}
	}
	return ""
}

func TestSealedUpsertSecretIsOpenedAsApplied(t *testing.T) {
	keys := keyring(t, newKey(t))
	sec := testSecret("db")
	create := sealedUpsert(t, keys, sec, true)
	entry, err := Encode(create)
	if err != nil {
		t.Fatal(err)
	}
	if s := showsSecret(entry); s != "" {
		t.Fatalf("the log entry holds %q", s)
	}

	h := newHarness(t)
	var failures []error
	h.f.SetKeys(keys, func(err error) { failures = append(failures, err) })
	h.must(create)
	// The same Secret proposed in the clear, as a server without keys
	// does, gives the same state.
	plain := newHarness(t)
	plain.must((&api.UpsertSecret{Secret: sec, CreateOnly: true}).Command())
	if got, want := h.state().Secret("default", "db"), plain.state().Secret("default", "db"); !proto.Equal(got, want) {
		t.Errorf("sealed upsert stored:\n%s", diffObjects(want, got))
	}

	// Applied twice, a create is refused as in the clear; an update opens.
	if errs := h.apply(create); !errors.Is(errs[0], ErrAlreadyExists) {
		t.Errorf("second create: %v, want ErrAlreadyExists", errs[0])
	}
	changed := testSecret("db")
	changed.Data["password"] = []byte("rotated")
	h.must(sealedUpsert(t, keys, changed, false))
	if got := h.state().Secret("default", "db"); string(got.GetData()["password"]) != "rotated" || got.GetMetadata().GetUid() != "uid-db" {
		t.Errorf("after a sealed update: %v", got)
	}
	if len(failures) != 0 {
		t.Errorf("failed func called: %v", failures)
	}
}

func TestSnapshotWithKeysHoldsSecretsSealed(t *testing.T) {
	oldKey, newKeyLine := newKey(t), newKey(t)
	keys := keyring(t, oldKey)
	h := newHarness(t)
	// One Secret stored in the clear before the keys were given (as by an
	// older log entry), one sealed afterwards.
	h.must((&api.UpsertSecret{Secret: testSecret("before"), CreateOnly: true}).Command())
	h.f.SetKeys(keys, nil)
	h.must(sealedUpsert(t, keys, testSecret("after"), true),
		(&api.UpsertConfigMap{ConfigMap: configMap("default", "cfg", map[string]string{"mode": "configmap-marker"}), CreateOnly: true}).Command())

	snap := persist(t, h.f)
	if s := showsSecret(snap); s != "" {
		t.Errorf("the snapshot holds %q", s)
	}
	if !bytes.Contains(snap, []byte("configmap-marker")) {
		t.Errorf("the snapshot holds no ConfigMap value either: the check proves nothing")
	}

	for _, tt := range []struct {
		name string
		keys *seal.Keyring
	}{
		{"the same key", keys},
		{"a new key first, the old one below", keyring(t, newKeyLine, oldKey)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := New(nil)
			g.SetKeys(tt.keys, nil)
			if err := g.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			for _, name := range []string{"before", "after"} {
				if got, want := g.State().Secret("default", name), h.state().Secret("default", name); !proto.Equal(got, want) {
					t.Errorf("restored secret %s:\n%s", name, diffObjects(want, got))
				}
			}
			if diff := equalTables(dump(h.state()), dump(g.State())); diff != "" {
				t.Errorf("restored state differs: %s", diff)
			}
		})
	}

	// After a rotation, the next snapshot is sealed with the new key
	// alone: a server given only that key reads it.
	rotated := New(nil)
	rotated.SetKeys(keyring(t, newKeyLine, oldKey), nil)
	if err := rotated.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	onlyNew := New(nil)
	onlyNew.SetKeys(keyring(t, newKeyLine), nil)
	if err := onlyNew.Restore(io.NopCloser(bytes.NewReader(persist(t, rotated)))); err != nil {
		t.Fatalf("restore the resealed snapshot with the new key alone: %v", err)
	}
	if onlyNew.State().Secret("default", "after") == nil {
		t.Errorf("the resealed snapshot lost a secret")
	}
}

// Snapshots written before the keys were given hold Secrets in the clear;
// a server with keys reads them, and its next snapshot seals them.
func TestRestoreOfPlaintextSnapshotWithKeys(t *testing.T) {
	old := newHarness(t)
	old.must((&api.UpsertSecret{Secret: testSecret("db"), CreateOnly: true}).Command())
	plainSnap := persist(t, old.f)
	if showsSecret(plainSnap) == "" {
		t.Fatalf("a snapshot without keys holds no plaintext: the format changed")
	}

	keys := keyring(t, newKey(t))
	g := New(nil)
	g.SetKeys(keys, nil)
	if err := g.Restore(io.NopCloser(bytes.NewReader(plainSnap))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got, want := g.State().Secret("default", "db"), old.state().Secret("default", "db"); !proto.Equal(got, want) {
		t.Errorf("restored secret:\n%s", diffObjects(want, got))
	}
	if s := showsSecret(persist(t, g)); s != "" {
		t.Errorf("the next snapshot still holds %q", s)
	}
}

func TestSecretSealedWithAKeyTheServerLacks(t *testing.T) {
	leaderKeys := keyring(t, newKey(t))
	cmd := sealedUpsert(t, leaderKeys, testSecret("db"), true)
	for _, tt := range []struct {
		name string
		keys *seal.Keyring
	}{
		{"server without keys", nil},
		{"server with another key", keyring(t, newKey(t))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			var failures []error
			h.f.SetKeys(tt.keys, func(err error) { failures = append(failures, err) })
			errs := h.apply(cmd)
			if len(failures) != 1 {
				t.Fatalf("failed func called %d times, want once", len(failures))
			}
			err := failures[0]
			for _, part := range []string{"index 1", "key " + leaderKeys.KeyID(), "--encryption-key-file"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not name %q", err, part)
				}
			}
			if !errors.Is(err, seal.ErrNoKey) || !errors.Is(errs[0], seal.ErrNoKey) {
				t.Errorf("failure %v, apply error %v: want seal.ErrNoKey", err, errs[0])
			}
			if h.state().Secret("default", "db") != nil {
				t.Errorf("a server that could not open the secret stored one")
			}
		})
	}

	t.Run("no failed func", func(t *testing.T) {
		h := newHarness(t)
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), leaderKeys.KeyID()) {
				t.Errorf("apply without a failed func: recovered %v, want a panic naming the key", r)
			}
		}()
		h.apply(cmd)
	})

	t.Run("snapshot", func(t *testing.T) {
		src := newHarness(t)
		src.f.SetKeys(leaderKeys, nil)
		src.must(cmd)
		snap := persist(t, src.f)
		g := New(nil)
		var failures []error
		g.SetKeys(keyring(t, newKey(t)), func(err error) { failures = append(failures, err) })
		err := g.Restore(io.NopCloser(bytes.NewReader(snap)))
		if !errors.Is(err, seal.ErrNoKey) || !strings.Contains(err.Error(), leaderKeys.KeyID()) {
			t.Errorf("Restore: %v, want seal.ErrNoKey naming key %s", err, leaderKeys.KeyID())
		}
		if len(failures) != 1 || failures[0].Error() != err.Error() {
			t.Errorf("failed func told %v, want once %v", failures, err)
		}
		if err := New(nil).Restore(io.NopCloser(bytes.NewReader(snap))); !errors.Is(err, seal.ErrNoKey) {
			t.Errorf("Restore without keys or failed func: %v, want seal.ErrNoKey", err)
		}
	})
}
