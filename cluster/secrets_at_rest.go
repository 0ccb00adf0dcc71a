package cluster

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// Secrets at rest (Config.SecretKeys, server --encryption-key-file): the
// leader seals each Secret into the command it proposes, so the Raft log
// never holds one in the clear; the FSM opens it as it applies the entry
// and seals every Secret in its snapshots. Memory, and so every read,
// holds them in the clear.

// setSecretKeys hands the FSM the server's keys, and the way to stop when
// it meets a Secret sealed with a key this server was not given.
func (s *Server) setSecretKeys() {
	s.fsm.SetKeys(s.cfg.SecretKeys, s.cannotOpenSecret)
	if k := s.cfg.SecretKeys; k != nil {
		s.logger.Info("secrets encrypted at rest", "key", k.KeyID(), "keys", len(k.KeyIDs()))
	}
}

// cannotOpenSecret stops the process: applying a log entry or snapshot
// differently from the servers that can open it would make this replica
// drift from them. The error names the key's id; the operator's fix is
// the same key file as the other servers.
func (s *Server) cannotOpenSecret(err error) {
	s.logger.Error("cannot open a sealed Secret: stopping; start this server with the --encryption-key-file the other servers have", "err", err)
	s.seams.exit(1)
}

// upsertSecret is the command that stores sec: sealed with the servers'
// first key when Secrets are encrypted at rest.
func (s *Server) upsertSecret(sec *api.Secret, createOnly bool) (*api.UpsertSecret, error) {
	keys := s.cfg.SecretKeys
	if keys == nil {
		return &api.UpsertSecret{Secret: sec, CreateOnly: createOnly}, nil
	}
	plain, err := proto.MarshalOptions{Deterministic: true}.Marshal(sec)
	if err != nil {
		return nil, fmt.Errorf("encode secret: %w", err)
	}
	sealed, err := keys.Seal(plain)
	if err != nil {
		return nil, err
	}
	return &api.UpsertSecret{Sealed: sealed, CreateOnly: createOnly}, nil
}
