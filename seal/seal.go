// Package seal encrypts Secrets at rest: the servers seal each Secret
// before it enters the Raft log or a snapshot, and open it as they apply
// it, with keys every server is given (server --encryption-key-file).
package seal

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// prefix starts every sealed blob: the format, then the key's id.
const prefix = "jcseal1:"

// idLen is the length of a key's id: hex of the start of its SHA-256.
const idLen = 8

// Keyring holds the keys a server seals and opens with: the first seals,
// every one opens, so a key can be rotated in.
type Keyring struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

// ErrNoKey is returned by Open for a blob sealed with a key the keyring
// lacks.
var ErrNoKey = errors.New("sealed with a key this server was not given")

// Parse reads keys, one per line, each the base64 of 32 random bytes (what
// `jobcluster keygen` prints); blank lines and lines starting with # are
// skipped. name names the source in errors.
func Parse(name string, data []byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, err := base64.StdEncoding.DecodeString(text)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("%s: line %d: not the base64 of 32 bytes: make a key with `jobcluster keygen`", name, line)
		}
		sum := sha256.Sum256(key)
		id := hex.EncodeToString(sum[:])[:idLen]
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("%s: line %d: the same key as an earlier line", name, line)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", name, line, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", name, line, err)
		}
		k.ids = append(k.ids, id)
		k.aeads[id] = aead
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(k.ids) == 0 {
		return nil, fmt.Errorf("%s: no key: put one made by `jobcluster keygen` in it", name)
	}
	return k, nil
}

// Load reads a key file (see Parse).
func Load(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption key file: %w", err)
	}
	return Parse(path, data)
}

// KeyID is the id of the key that seals.
func (k *Keyring) KeyID() string { return k.ids[0] }

// Seal encrypts plaintext with the first key (AES-256-GCM, a random
// nonce), naming the key in the blob.
func (k *Keyring) Seal(plaintext []byte) ([]byte, error) {
	id := k.ids[0]
	aead := k.aeads[id]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	head := []byte(prefix + id + ":")
	out := append(head, nonce...)
	return aead.Seal(out, nonce, plaintext, head), nil
}

// KeyOf is the id of the key a blob was sealed with, or "" for a blob that
// is not sealed.
func KeyOf(blob []byte) string {
	if !bytes.HasPrefix(blob, []byte(prefix)) || len(blob) < len(prefix)+idLen+1 {
		return ""
	}
	return string(blob[len(prefix) : len(prefix)+idLen])
}

// Open decrypts a blob made by Seal with any key of the keyring. A nil
// keyring opens nothing.
func (k *Keyring) Open(blob []byte) ([]byte, error) {
	id := KeyOf(blob)
	if id == "" {
		return nil, errors.New("open: not a sealed blob")
	}
	if k == nil || k.aeads[id] == nil {
		return nil, fmt.Errorf("open: key %s: %w (give it with --encryption-key-file)", id, ErrNoKey)
	}
	aead := k.aeads[id]
	headLen := len(prefix) + idLen + 1
	if len(blob) < headLen+aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("open: sealed with key %s, but cut short", id)
	}
	head, rest := blob[:headLen], blob[headLen:]
	nonce, ct := rest[:aead.NonceSize()], rest[aead.NonceSize():]
	out, err := aead.Open(nil, nonce, ct, head)
	if err != nil {
		return nil, fmt.Errorf("open: sealed with key %s, but damaged: %w", id, err)
	}
	return out, nil
}
