package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestParseRefusesBadKeyFiles(t *testing.T) {
	k1 := newKey(t)
	for _, tt := range []struct {
		name, data, want string
	}{
		{"empty", "\n# only a comment\n", "f: no key: put one made by `jobcluster keygen` in it"},
		{"not base64", k1 + "\nnot-a-key\n", "f: line 2: not the base64 of 32 bytes: make a key with `jobcluster keygen`"},
		{"short", base64.StdEncoding.EncodeToString([]byte("short")), "f: line 1: not the base64 of 32 bytes"},
		{"twice", k1 + "\n\n" + k1, "f: line 3: the same key as an earlier line"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f", []byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSealOpensWithEveryKeyAndOnlyThem(t *testing.T) {
	oldKey, newKeyText := newKey(t), newKey(t)
	old, err := Parse("old", []byte(oldKey))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := Parse("rotated", []byte("# new first\n"+newKeyText+"\n"+oldKey+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("hunter2")
	byOld, err := old.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(byOld, plain) || KeyOf(byOld) != old.KeyID() {
		t.Fatalf("sealed blob %q shows the value or names key %q, want %q", byOld, KeyOf(byOld), old.KeyID())
	}
	again, _ := old.Seal(plain)
	if bytes.Equal(again, byOld) {
		t.Errorf("two seals of one value are equal: the nonce is not random")
	}
	for _, k := range []*Keyring{old, rotated} {
		if got, err := k.Open(byOld); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("open with %v: %q %v", k.ids, got, err)
		}
	}
	byNew, _ := rotated.Seal(plain)
	if KeyOf(byNew) == old.KeyID() {
		t.Errorf("the rotated keyring seals with the old key")
	}
	if _, err := old.Open(byNew); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), KeyOf(byNew)) || !strings.Contains(err.Error(), "--encryption-key-file") {
		t.Errorf("open without the key: %v", err)
	}
	var none *Keyring
	if _, err := none.Open(byNew); !errors.Is(err, ErrNoKey) {
		t.Errorf("open without a keyring: %v", err)
	}
	damaged := append([]byte{}, byOld...)
	damaged[len(damaged)-1] ^= 1
	if _, err := old.Open(damaged); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("open of a damaged blob: %v", err)
	}
	if _, err := old.Open(byOld[:20]); err == nil {
		t.Errorf("open of a cut blob succeeded")
	}
	if KeyOf(plain) != "" {
		t.Errorf("a plain value has a key")
	}
}
