package fsm

import (
	"errors"
	"fmt"
	"slices"

	"github.com/jobcluster/jobcluster/api"
)

// ErrBootstrapped refuses a second ACL bootstrap.
var ErrBootstrapped = errors.New("ACL bootstrap already done")

// MaxAuditRecords is how many audit records the servers keep, the newest.
const MaxAuditRecords = 10000

// bootstrapMarker records that the ACL system was bootstrapped, even after
// the management token is deleted.
const bootstrapMarker = "bootstrapped"

func policyName(obj any) string  { return obj.(*api.AclPolicy).GetName() }
func tokenID(obj any) string     { return obj.(*api.AclToken).GetAccessorId() }
func tokenSecret(obj any) string { return string(obj.(*api.AclToken).GetSecretHash()) }
func auditKey(obj any) string {
	r := obj.(*api.AuditRecord)
	return fmt.Sprintf("%020d/%06d", r.GetIndex(), r.GetPosition())
}

func (w *writer) applyUpsertAclPolicy(c *api.UpsertAclPolicy) error {
	p := clone(c.GetPolicy())
	if p.GetName() == "" {
		return fmt.Errorf("upsert acl policy: %w", errNoName)
	}
	if old := first[*api.AclPolicy](w.txn, tableAclPolicies, "id", p.GetName()); old != nil {
		p.CreateTime = old.GetCreateTime()
	}
	if err := w.txn.Insert(tableAclPolicies, p); err != nil {
		panic(err)
	}
	return nil
}

func (w *writer) applyDeleteAclPolicy(c *api.DeleteAclPolicy) error {
	p := first[*api.AclPolicy](w.txn, tableAclPolicies, "id", c.GetName())
	if p == nil {
		return fmt.Errorf("acl policy %q: %w", c.GetName(), ErrNotFound)
	}
	w.remove(tableAclPolicies, p)
	return nil
}

func (w *writer) applyUpsertAclToken(c *api.UpsertAclToken) error {
	t := clone(c.GetToken())
	if t.GetAccessorId() == "" || len(t.GetSecretHash()) == 0 {
		return fmt.Errorf("upsert acl token: %w", errNoName)
	}
	if c.GetBootstrap() {
		if first[*api.AclToken](w.txn, tableAclBootstrap, "id", bootstrapMarker) != nil {
			return ErrBootstrapped
		}
		if err := w.txn.Insert(tableAclBootstrap, &api.AclToken{AccessorId: bootstrapMarker, SecretHash: []byte{1}}); err != nil {
			panic(err)
		}
	}
	if err := w.txn.Insert(tableAclTokens, t); err != nil {
		panic(err)
	}
	return nil
}

func (w *writer) applyDeleteAclToken(c *api.DeleteAclToken) error {
	t := first[*api.AclToken](w.txn, tableAclTokens, "id", c.GetAccessorId())
	if t == nil {
		return fmt.Errorf("acl token %q: %w", c.GetAccessorId(), ErrNotFound)
	}
	w.remove(tableAclTokens, t)
	return nil
}

func (w *writer) applyRecordAudit(c *api.RecordAudit) error {
	for i, r := range c.GetRecords() {
		r = clone(r)
		r.Index, r.Position = w.index, int32(i)
		if err := w.txn.Insert(tableAudit, r); err != nil {
			panic(err)
		}
	}
	it, err := w.txn.Get(tableAudit, "id")
	if err != nil {
		panic(err)
	}
	var all []any
	for o := it.Next(); o != nil; o = it.Next() {
		all = append(all, o)
	}
	for _, old := range all[:max(len(all)-MaxAuditRecords, 0)] {
		w.remove(tableAudit, old)
	}
	return nil
}

// AclPolicies returns every policy by name.
func (s *State) AclPolicies() map[string]*api.AclPolicy {
	out := map[string]*api.AclPolicy{}
	for _, p := range all[*api.AclPolicy](s.txn, tableAclPolicies, "id") {
		out[p.GetName()] = p
	}
	return out
}

// AclTokens lists every token by accessor.
func (s *State) AclTokens() []*api.AclToken { return all[*api.AclToken](s.txn, tableAclTokens, "id") }

// AclTokenBySecret finds a token by its secret's hash, or nil.
func (s *State) AclTokenBySecret(hash []byte) *api.AclToken {
	return first[*api.AclToken](s.txn, tableAclTokens, "secret", string(hash))
}

// AclBootstrapped reports whether `acl bootstrap` was done.
func (s *State) AclBootstrapped() bool {
	return first[*api.AclToken](s.txn, tableAclBootstrap, "id", bootstrapMarker) != nil
}

// Audit lists the audit records, newest first.
func (s *State) Audit() []*api.AuditRecord {
	out := all[*api.AuditRecord](s.txn, tableAudit, "id")
	slices.Reverse(out)
	return out
}
