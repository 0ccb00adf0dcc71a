package fsm

import (
	"errors"
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

func TestAclStateAndBootstrapOnce(t *testing.T) {
	h := newHarness(t)
	mgmt := &api.AclToken{AccessorId: "a1", SecretHash: []byte("h1"), Management: true}
	h.must((&api.UpsertAclToken{Token: mgmt, Bootstrap: true}).Command())
	errs := h.apply((&api.UpsertAclToken{Token: &api.AclToken{AccessorId: "a2", SecretHash: []byte("h2"), Management: true}, Bootstrap: true}).Command())
	if !errors.Is(errs[0], ErrBootstrapped) {
		t.Fatalf("second bootstrap: %v, want refused", errs[0])
	}
	h.must((&api.DeleteAclToken{AccessorId: "a1"}).Command())
	errs = h.apply((&api.UpsertAclToken{Token: &api.AclToken{AccessorId: "a3", SecretHash: []byte("h3")}, Bootstrap: true}).Command())
	if !errors.Is(errs[0], ErrBootstrapped) {
		t.Fatalf("bootstrap after deleting the management token: %v, want refused", errs[0])
	}
	h.must((&api.UpsertAclPolicy{Policy: &api.AclPolicy{Name: "ci"}}).Command(),
		(&api.UpsertAclToken{Token: &api.AclToken{AccessorId: "t1", SecretHash: []byte("s1"), Policies: []string{"ci"}}}).Command(),
		(&api.RecordAudit{Records: []*api.AuditRecord{{Method: "Submit", Allowed: true}, {Method: "Delete", Allowed: false}}}).Command())
	g := restored(t, h.f).State()
	if !g.AclBootstrapped() || g.AclTokenBySecret([]byte("s1")).GetAccessorId() != "t1" || g.AclPolicies()["ci"] == nil {
		t.Errorf("after restore: bootstrapped %v, token %v, policies %v", g.AclBootstrapped(), g.AclTokenBySecret([]byte("s1")), g.AclPolicies())
	}
	if a := g.Audit(); len(a) != 2 || a[0].GetMethod() != "Delete" {
		t.Errorf("audit %v, want Delete then Submit", a)
	}
}
