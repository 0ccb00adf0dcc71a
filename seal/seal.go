// Package seal encrypts Secrets at rest: the servers seal each Secret
// before it enters the Raft log or a snapshot, and open it as they apply
// it, with keys every server is given (server --encryption-key-file).
//
// A sealed blob is "jcseal1:" + the key's id + ":" + a random nonce +
// the AES-256-GCM ciphertext, the text before the nonce authenticated as
// additional data. A key's id is the first 8 hex digits of its SHA-256, so
// a blob names the key that opens it without revealing it.
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

// headLen is the length of a blob's clear head: prefix, id and ':'.
const headLen = len(prefix) + idLen + 1

// keySize is the size of a key: AES-256.
const keySize = 32

// ErrNoKey is returned by Open for a blob sealed with a key the keyring
// lacks.
var ErrNoKey = errors.New("sealed with a key this server was not given")

// Keyring holds the keys a server seals and opens with: the first seals,
// every one opens, so a key can be rotated in. It is immutable, safe for
// concurrent use.
type Keyring struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

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
		if err != nil || len(key) != keySize {
			return nil, fmt.Errorf("%s: line %d: not the base64 of %d bytes: make a key with `jobcluster keygen`", name, line, keySize)
		}
		id := keyID(key)
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("%s: line %d: the same key as an earlier line (id %s): remove one", name, line, id)
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
		return nil, fmt.Errorf("read key file: %w", err)
	}
	return Parse(path, data)
}

// keyID names a key: the first idLen hex digits of its SHA-256.
func keyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:])[:idLen]
}

// KeyID is the id of the key that seals.
func (k *Keyring) KeyID() string { return k.ids[0] }

// KeyIDs are the ids of every key, the sealing one first.
func (k *Keyring) KeyIDs() []string { return append([]string(nil), k.ids...) }

// Seal encrypts plaintext with the first key (AES-256-GCM, a random
// nonce), naming the key in the blob.
func (k *Keyring) Seal(plaintext []byte) ([]byte, error) {
	id := k.ids[0]
	aead := k.aeads[id]
	head := []byte(prefix + id + ":")
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	// The head and nonce are copied into out rather than aliased: AEAD.Seal
	// forbids dst from overlapping the additional data.
	out := make([]byte, 0, headLen+len(nonce)+len(plaintext)+aead.Overhead())
	out = append(append(out, head...), nonce...)
	return aead.Seal(out, nonce, plaintext, head), nil
}

// KeyOf is the id of the key a blob was sealed with, or "" for a blob that
// is not sealed.
func KeyOf(blob []byte) string {
	if len(blob) < headLen || !bytes.HasPrefix(blob, []byte(prefix)) || blob[headLen-1] != ':' {
		return ""
	}
	return string(blob[len(prefix) : headLen-1])
}

// Open decrypts a blob made by Seal with any key of the keyring. A nil
// keyring opens nothing. Its errors name the key the blob needs.
func (k *Keyring) Open(blob []byte) ([]byte, error) {
	id := KeyOf(blob)
	if id == "" {
		return nil, errors.New("open: not a sealed blob (no jcseal1 header)")
	}
	var aead cipher.AEAD
	if k != nil {
		aead = k.aeads[id]
	}
	if aead == nil {
		return nil, fmt.Errorf("open: key %s: %w (give it with --encryption-key-file)", id, ErrNoKey)
	}
	if len(blob) < headLen+aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("open: sealed with key %s, but cut short (%d bytes)", id, len(blob))
	}
	nonce, ct := blob[headLen:headLen+aead.NonceSize()], blob[headLen+aead.NonceSize():]
	out, err := aead.Open(nil, nonce, ct, blob[:headLen])
	if err != nil {
		return nil, fmt.Errorf("open: sealed with key %s, but damaged: %w", id, err)
	}
	return out, nil
}
