package gossip

import (
	"fmt"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

func startWithKeys(t *testing.T, name string, ring *Keyring, join ...string) *Gossip {
	t.Helper()
	g, err := Start(Config{
		Name:     name,
		BindAddr: freeAddr(t),
		Join:     join,
		Meta:     &api.MemberMeta{Role: RoleAgent},
		Keyring:  ring,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Shutdown() })
	return g
}

func mustKey(t *testing.T) []byte {
	t.Helper()
	s, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRing(t *testing.T, key []byte) *Keyring {
	t.Helper()
	r, err := NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGossipKeyKeepsOutsidersAndRotates(t *testing.T) {
	keyA, keyB := mustKey(t), mustKey(t)
	ringS1 := mustRing(t, keyA)
	s1 := startWithKeys(t, "s1", ringS1)
	seed := s1.ml.LocalNode().Address()
	plain := start(t, "plain", RoleAgent, seed)
	startWithKeys(t, "other-key", mustRing(t, keyB), seed)
	startWithKeys(t, "a1", mustRing(t, keyA), seed)

	wait.For(t, "a1, with the key, alive on s1", func() (bool, string) {
		s := statusOf(s1, "a1")
		return s == StatusAlive, s
	})
	// By the time a1 joined, the others had as long and as many tries.
	for _, name := range []string{"plain", "other-key"} {
		if s := statusOf(s1, name); s != "unknown" {
			t.Errorf("%s, without the key, is %s on s1", name, s)
		}
	}
	if s := statusOf(plain, "s1"); s != "unknown" {
		t.Errorf("s1 is %s to a member without the key", s)
	}

	// Rotate s1 to key B: the member with key B gets in, and a1, still on
	// key A, stays alive because s1 keeps accepting A for a while.
	changed, err := ringS1.Install(keyB)
	if err != nil || !changed {
		t.Fatalf("Install = %v, %v", changed, err)
	}
	if n := ringS1.Len(); n != 2 {
		t.Fatalf("%d keys after rotation, want the new and the old", n)
	}
	wait.For(t, "member with the new key alive on s1", func() (bool, string) {
		got := fmt.Sprint(statusOf(s1, "other-key"), " ", statusOf(s1, "a1"))
		return got == "alive alive", got
	})
	if changed, err := ringS1.Install(keyB); err != nil || changed {
		t.Errorf("installing the primary key again = %v, %v; want no change", changed, err)
	}
}

func TestKeyringDropsOldKeyAfterRetention(t *testing.T) {
	ring := mustRing(t, mustKey(t))
	ring.retention = 10 * time.Millisecond
	if _, err := ring.Install(mustKey(t)); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "old key removed", func() (bool, string) {
		return ring.Len() == 1, fmt.Sprint(ring.Len(), " keys")
	})
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{name: "32 bytes with a newline", in: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", ok: true},
		{name: "16 bytes", in: "MDEyMzQ1Njc4OWFiY2RlZg==", ok: true},
		{name: "empty", in: " "},
		{name: "not base64", in: "not a key!"},
		{name: "wrong length", in: "YWJj"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKey(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseKey(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}
