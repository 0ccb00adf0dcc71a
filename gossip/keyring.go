package gossip

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// KeyRetention is how long a key replaced by Install still decrypts
// gossip, so that the members of a cluster can move to a new key one by
// one without losing each other.
const KeyRetention = time.Hour

// Keyring holds the keys that encrypt and authenticate gossip. Every
// message is encrypted with the primary key; one encrypted with any key
// in the ring is accepted. A member without a key of the ring can neither
// join nor read the cluster's gossip. Safe for concurrent use.
type Keyring struct {
	ring      *memberlist.Keyring
	retention time.Duration

	mu      sync.Mutex
	primary []byte
}

// NewKeyring returns a keyring whose only key is key.
func NewKeyring(key []byte) (*Keyring, error) {
	ring, err := memberlist.NewKeyring(nil, key)
	if err != nil {
		return nil, fmt.Errorf("gossip key: %w", err)
	}
	return &Keyring{ring: ring, retention: KeyRetention, primary: bytes.Clone(key)}, nil
}

// Install makes key the primary key. The key it replaces stays in the
// ring for KeyRetention, then is removed. Installing the primary key
// again changes nothing; changed reports whether the key was new.
func (k *Keyring) Install(key []byte) (changed bool, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if bytes.Equal(key, k.primary) {
		return false, nil
	}
	if err := k.ring.AddKey(key); err != nil {
		return false, fmt.Errorf("gossip key: %w", err)
	}
	if err := k.ring.UseKey(key); err != nil {
		return false, fmt.Errorf("gossip key: %w", err)
	}
	old := k.primary
	k.primary = bytes.Clone(key)
	time.AfterFunc(k.retention, func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if !bytes.Equal(old, k.primary) {
			// Fails only for the primary key, which then stays.
			_ = k.ring.RemoveKey(old)
		}
	})
	return true, nil
}

// Len is the number of keys that decrypt gossip now.
func (k *Keyring) Len() int { return len(k.ring.GetKeys()) }

// keySize is the length of the keys GenerateKey makes: AES-256.
const keySize = 32

// GenerateKey returns a new random gossip key, base64 encoded, as
// `jobcluster keygen` prints it.
func GenerateKey() (string, error) {
	b := make([]byte, keySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate gossip key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// ParseKey decodes a base64 gossip key of 16, 24 or 32 bytes (AES-128,
// -192 or -256), as GenerateKey makes; surrounding space is ignored.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("gossip key is empty: make one with jobcluster keygen")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("gossip key is not base64: make one with jobcluster keygen")
	}
	switch len(b) {
	case 16, 24, 32:
		return b, nil
	}
	return nil, fmt.Errorf("gossip key is %d bytes, want 32 (or 16 or 24): make one with jobcluster keygen", len(b))
}
