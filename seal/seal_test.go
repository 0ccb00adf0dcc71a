package seal

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// newKey is a key as `jobcluster keygen` prints it.
func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, keySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// idOf is a key's id computed independently of the package.
func idOf(t *testing.T, key string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:4])
}

func mustParse(t *testing.T, data string) *Keyring {
	t.Helper()
	k, err := Parse("test.key", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseReadsKeysInOrder(t *testing.T) {
	first, second := newKey(t), newKey(t)
	for _, tt := range []struct {
		name string
		data string
		want []string // key ids, sealing one first
	}{
		{"one key as keygen prints it", first + "\n", []string{idOf(t, first)}},
		{"no final newline", first, []string{idOf(t, first)}},
		{"comments, blank lines and spaces", "# rotated in on Monday\n\n  " + second + "  \n# the old one\n" + first + "\n\n", []string{idOf(t, second), idOf(t, first)}},
		{"CRLF line ends", first + "\r\n" + second + "\r\n", []string{idOf(t, first), idOf(t, second)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Parse("f", []byte(tt.data))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := k.KeyIDs(); !slices.Equal(got, tt.want) {
				t.Errorf("key ids %v, want %v", got, tt.want)
			}
			if k.KeyID() != tt.want[0] {
				t.Errorf("sealing key %s, want %s", k.KeyID(), tt.want[0])
			}
		})
	}
}

func TestParseRefusesBadKeyFiles(t *testing.T) {
	key := newKey(t)
	for _, tt := range []struct {
		name, data, want string
	}{
		{"empty", "", "f: no key: put one made by `jobcluster keygen` in it"},
		{"only comments", "\n# only a comment\n", "f: no key: put one made by `jobcluster keygen` in it"},
		{"not base64", key + "\nnot-a-key\n", "f: line 2: not the base64 of 32 bytes: make a key with `jobcluster keygen`"},
		{"too short", base64.StdEncoding.EncodeToString([]byte("short")), "f: line 1: not the base64 of 32 bytes"},
		{"an AES-128 gossip key", base64.StdEncoding.EncodeToString(make([]byte, 16)), "f: line 1: not the base64 of 32 bytes"},
		{"two keys on one line", key + " " + key, "f: line 1: not the base64 of 32 bytes"},
		{"the same key twice", key + "\n\n" + key, "f: line 3: the same key as an earlier line (id " + idOf(t, key) + "): remove one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f", []byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.key")
	if err := os.WriteFile(good, []byte(newKey(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("# comment\nhunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, path, wantErr string
	}{
		{"a key file", good, ""},
		{"a missing file", filepath.Join(dir, "missing.key"), "read key file: open " + filepath.Join(dir, "missing.key") + ": no such file"},
		{"a bad line", bad, bad + ": line 2: not the base64 of 32 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Load: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSealNamesItsKeyAndHidesThePlaintext(t *testing.T) {
	key := newKey(t)
	k := mustParse(t, key)
	plain := []byte("correct horse battery staple")
	a, err := k.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if want := "jcseal1:" + idOf(t, key) + ":"; !bytes.HasPrefix(a, []byte(want)) {
		t.Errorf("blob starts %q, want %q", a[:min(len(a), len(want))], want)
	}
	if KeyOf(a) != idOf(t, key) {
		t.Errorf("KeyOf = %q, want %q", KeyOf(a), idOf(t, key))
	}
	if bytes.Contains(a, plain) || bytes.Contains(a, []byte(base64.StdEncoding.EncodeToString(plain))) {
		t.Errorf("the blob shows the plaintext: %q", a)
	}
	if bytes.Equal(a, b) {
		t.Errorf("two seals of one value are equal: the nonce is not random")
	}
	if empty, err := k.Seal(nil); err != nil {
		t.Errorf("seal nothing: %v", err)
	} else if got, err := k.Open(empty); err != nil || len(got) != 0 {
		t.Errorf("open a sealed empty value: %q, %v", got, err)
	}
}

func TestOpen(t *testing.T) {
	oldKey, newKeyText := newKey(t), newKey(t)
	old := mustParse(t, oldKey)
	rotated := mustParse(t, "# new first\n"+newKeyText+"\n"+oldKey+"\n")
	plain := []byte("hunter2")
	byOld, err := old.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	byNew, err := rotated.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(byOld)
	damaged[len(damaged)-1] ^= 1
	renamed := bytes.Clone(byOld) // the head is authenticated too
	copy(renamed[len(prefix):], idOf(t, newKeyText))

	for _, tt := range []struct {
		name    string
		keys    *Keyring
		blob    []byte
		wantErr []string // every part the error names; none means it opens
		noKey   bool     // the error is ErrNoKey
	}{
		{name: "sealed and opened with one key", keys: old, blob: byOld},
		{name: "sealed with the old key, opened after rotation", keys: rotated, blob: byOld},
		{name: "sealed with the new key, opened after rotation", keys: rotated, blob: byNew},
		{name: "sealed with a key the keyring lacks", keys: old, blob: byNew,
			wantErr: []string{"key " + idOf(t, newKeyText), "--encryption-key-file"}, noKey: true},
		{name: "no keyring", keys: nil, blob: byOld,
			wantErr: []string{"key " + idOf(t, oldKey), "--encryption-key-file"}, noKey: true},
		{name: "damaged ciphertext", keys: old, blob: damaged,
			wantErr: []string{"sealed with key " + idOf(t, oldKey) + ", but damaged"}},
		{name: "head naming another key", keys: rotated, blob: renamed,
			wantErr: []string{"damaged"}},
		{name: "cut short", keys: old, blob: byOld[:headLen+5],
			wantErr: []string{"cut short"}},
		{name: "cut inside the head", keys: old, blob: byOld[:headLen-1],
			wantErr: []string{"not a sealed blob"}},
		{name: "plaintext", keys: old, blob: plain,
			wantErr: []string{"not a sealed blob"}},
		{name: "nothing", keys: old, blob: nil,
			wantErr: []string{"not a sealed blob"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.keys.Open(tt.blob)
			if len(tt.wantErr) == 0 {
				if err != nil || !bytes.Equal(got, plain) {
					t.Errorf("Open = %q, %v; want %q", got, err, plain)
				}
				return
			}
			if err == nil {
				t.Fatalf("Open = %q, want an error", got)
			}
			for _, part := range tt.wantErr {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not name %q", err, part)
				}
			}
			if errors.Is(err, ErrNoKey) != tt.noKey {
				t.Errorf("errors.Is(%v, ErrNoKey) = %v, want %v", err, !tt.noKey, tt.noKey)
			}
		})
	}
}
