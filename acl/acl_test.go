package acl

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy("ci", []byte("namespaces:\n  default: [read, submit, logs, read]\n  \"*\": [read]\nnodes: read\noperator: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.GetNamespaces()["default"].GetCapabilities(); strings.Join(got, ",") != "logs,read,submit" {
		t.Errorf("default capabilities %v", got)
	}
	for _, tt := range []struct{ name, rules, want string }{
		{"unknown capability", "namespaces: {default: [write]}", `unknown capability "write": use read, submit, logs, secrets`},
		{"unknown field", "namespace: {default: [read]}", `unknown field "namespace"`},
		{"bad nodes", "nodes: all", `nodes: "all" is not none, read or write`},
		{"bad namespace", "namespaces: {\"a b\": [read]}", "not a namespace name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParsePolicy("p", []byte(tt.rules)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAuthorize(t *testing.T) {
	must := func(name, rules string) *api.AclPolicy {
		p, err := ParsePolicy(name, []byte(rules))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	policies := map[string]*api.AclPolicy{
		"ci":       must("ci", "namespaces: {default: [read, submit, logs]}"),
		"viewer":   must("viewer", "namespaces: {\"*\": [read]}\nnodes: read"),
		"ops":      must("ops", "operator: true\nnodes: write"),
		"secretly": must("secretly", "namespaces: {team-a: [secrets]}"),
	}
	ci := &api.AclToken{AccessorId: "1234567890", Description: "ci", Policies: []string{"ci"}}
	viewer := &api.AclToken{AccessorId: "abcdefabcdef", Policies: []string{"viewer"}}
	expired := &api.AclToken{Description: "old", Policies: []string{"ci"}, ExpirationTime: timestamppb.New(now)}
	for _, tt := range []struct {
		name  string
		token *api.AclToken
		a     Action
		want  string // "" allowed
	}{
		{"ci submits in default", ci, Action{Capability: Submit, Namespace: "default"}, ""},
		{"ci submits elsewhere", ci, Action{Capability: Submit, Namespace: "team-b"}, `permission denied: token "ci" lacks submit on namespace "team-b"`},
		{"ci lists every namespace", ci, Action{Capability: Read}, `permission denied: token "ci" lacks read on every namespace`},
		{"viewer reads anywhere", viewer, Action{Capability: Read, Namespace: "team-b"}, ""},
		{"viewer lists every namespace", viewer, Action{Capability: Read}, ""},
		{"viewer submits", viewer, Action{Capability: Submit, Namespace: "default"}, `permission denied: token "abcdefab" lacks submit on namespace "default"`},
		{"viewer reads nodes", viewer, Action{Nodes: NodesRead}, ""},
		{"viewer deletes a node", viewer, Action{Nodes: NodesWrite}, `lacks nodes write`},
		{"viewer is no operator", viewer, Action{Operator: true}, `lacks operator`},
		{"ops writes nodes", &api.AclToken{Policies: []string{"ops"}}, Action{Nodes: NodesWrite}, ""},
		{"a policy gone", &api.AclToken{Description: "x", Policies: []string{"gone"}}, Action{Capability: Read, Namespace: "default"}, "lacks read"},
		{"secrets is its own capability", &api.AclToken{Policies: []string{"secretly", "ci"}}, Action{Capability: Secrets, Namespace: "default"}, "lacks secrets"},
		{"management does everything", &api.AclToken{Management: true}, Action{Operator: true}, ""},
		{"anonymous", nil, Action{Capability: Read, Namespace: "default"}, `permission denied: anonymous lacks read on namespace "default"`},
		{"expired", expired, Action{Capability: Read, Namespace: "default"}, `permission denied: token "old" expired at 2026-12-04T12:00:00Z`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Authorize(tt.token, policies, tt.a, now)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("denied: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	a, s := NewSecret()
	a2, s2 := NewSecret()
	if a == a2 || s == s2 || len(s) != 36 {
		t.Errorf("secrets %q %q %q %q", a, s, a2, s2)
	}
	if !SameHash(HashSecret(s), HashSecret(s)) || SameHash(HashSecret(s), HashSecret(s2)) {
		t.Error("hashes do not tell secrets apart")
	}
}
