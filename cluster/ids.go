package cluster

import (
	"crypto/rand"
	"fmt"
)

// newUID returns a random RFC 4122 version 4 UUID, as Kubernetes uses.
func newUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// suffixAlphabet is Kubernetes' alphabet for generated names: no vowels, no
// look-alike digits.
const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// nameSuffix returns five random characters, as generateName appends.
func nameSuffix() string {
	var b [5]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = suffixAlphabet[int(b[i])%len(suffixAlphabet)]
	}
	return string(b[:])
}
