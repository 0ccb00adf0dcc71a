package fsm

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/seal"
)

// SetKeys gives the FSM the servers' encryption keys for Secrets at rest
// (nil for none). With keys, the FSM opens the Secrets the leader sealed
// into UpsertSecret commands, and seals every Secret in the snapshots it
// writes; its memory holds them in the clear either way.
//
// failed is called when a sealed Secret cannot be opened: this server
// lacks the key the leader sealed it with (the error wraps seal.ErrNoKey
// and names the key's id), or the entry is damaged. Applying the entry
// differently from the servers that can open it would make this replica
// drift, so failed must stop the server; if it returns, the command is
// refused with the error (which only tests should rely on). Without a
// failed func, such an entry panics, as an undecodable one does. A
// snapshot holding a Secret sealed with a key this server lacks calls
// failed too, and Restore returns the error.
//
// Call SetKeys before the FSM applies or restores anything.
func (f *FSM) SetKeys(keys *seal.Keyring, failed func(error)) {
	f.keys, f.sealFailed = keys, failed
}

// openSecret opens the Secret of a sealed UpsertSecret (see SetKeys).
func (w *writer) openSecret(sealed []byte) (*api.Secret, error) {
	plain, err := w.keys.Open(sealed)
	s := &api.Secret{}
	if err == nil {
		if err = proto.Unmarshal(plain, s); err != nil {
			err = fmt.Errorf("decode opened secret: %w", err)
		}
	}
	if err == nil {
		return s, nil
	}
	err = fmt.Errorf("upsert secret at index %d: %w", w.index, err)
	if w.sealFailed == nil {
		panic(fmt.Sprintf("fsm: %v", err))
	}
	w.sealFailed(err)
	return nil, err
}

// sealRecord turns a Secret's snapshot record into an api.SealedSecret's.
func sealRecord(keys *seal.Keyring, secret []byte) ([]byte, error) {
	sealed, err := keys.Seal(secret)
	if err != nil {
		return nil, fmt.Errorf("seal secret: %w", err)
	}
	return proto.Marshal(&api.SealedSecret{Sealed: sealed})
}

// openRecord turns an api.SealedSecret's snapshot record back into the
// Secret's.
func openRecord(keys *seal.Keyring, record []byte) ([]byte, error) {
	var ss api.SealedSecret
	if err := proto.Unmarshal(record, &ss); err != nil {
		return nil, fmt.Errorf("decode sealed secret: %w", err)
	}
	out, err := keys.Open(ss.GetSealed())
	if err != nil {
		return nil, fmt.Errorf("sealed secret: %w", err)
	}
	return out, nil
}
