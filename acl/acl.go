// Package acl decides what an ACL token may do: its policies grant
// capabilities per namespace (read, submit, logs, secrets), on nodes (read
// or write) and the operator's (members, leave, ACLs, audit). Parsing a
// policy file, making and hashing token secrets, and the decision itself
// are pure; the servers hold policies and tokens in Raft and ask Authorize
// at the service edge.
package acl

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/jobcluster/jobcluster/api"
)

// Capabilities a policy grants in a namespace.
const (
	Read    = "read"    // get, list, watch, describe
	Submit  = "submit"  // create, apply, delete, suspend, create job --from
	Logs    = "logs"    // read pods' logs
	Secrets = "secrets" // read Secrets' values
)

// Node access levels.
const (
	NodesNone  = "none"
	NodesRead  = "read"
	NodesWrite = "write"
)

// AllNamespaces is the namespace key granting in every namespace.
const AllNamespaces = "*"

var capabilities = []string{Read, Submit, Logs, Secrets}

// policyFile is a policy as written in YAML.
type policyFile struct {
	Description string              `json:"description,omitempty"`
	Namespaces  map[string][]string `json:"namespaces,omitempty"`
	Nodes       string              `json:"nodes,omitempty"`
	Operator    bool                `json:"operator,omitempty"`
}

// ParsePolicy reads a policy file, strictly: an unknown field or
// capability is an error naming it and what is allowed.
func ParsePolicy(name string, rules []byte) (*api.AclPolicy, error) {
	if !validName(name) {
		return nil, fmt.Errorf("policy name %q: use letters, digits, '-', '_' and '.', at most 128", name)
	}
	var f policyFile
	if err := yaml.UnmarshalStrict(rules, &f); err != nil {
		return nil, fmt.Errorf("policy %s: %w (fields: namespaces, nodes, operator, description)", name, err)
	}
	p := &api.AclPolicy{Name: name, Description: f.Description, Rules: string(rules), Operator: f.Operator, Namespaces: map[string]*api.AclNamespaceRule{}}
	for ns, caps := range f.Namespaces {
		if ns != AllNamespaces && !validName(ns) {
			return nil, fmt.Errorf("policy %s: namespaces[%s]: not a namespace name (or \"*\" for every namespace)", name, ns)
		}
		for _, c := range caps {
			if !slices.Contains(capabilities, c) {
				return nil, fmt.Errorf("policy %s: namespaces[%s]: unknown capability %q: use %s", name, ns, c, strings.Join(capabilities, ", "))
			}
		}
		p.Namespaces[ns] = &api.AclNamespaceRule{Capabilities: slices.Compact(slices.Sorted(slices.Values(caps)))}
	}
	switch f.Nodes {
	case "", NodesNone, NodesRead, NodesWrite:
		p.Nodes = f.Nodes
	default:
		return nil, fmt.Errorf("policy %s: nodes: %q is not none, read or write", name, f.Nodes)
	}
	return p, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Action is what a request needs: a capability in a namespace, node
// access, or the operator's.
type Action struct {
	Capability string // with Namespace
	Namespace  string // "" with Capability: every namespace
	Nodes      string // NodesRead or NodesWrite
	Operator   bool
}

func (a Action) String() string {
	switch {
	case a.Operator:
		return "operator"
	case a.Nodes != "":
		return "nodes " + a.Nodes
	case a.Namespace == "":
		return fmt.Sprintf("%s on every namespace", a.Capability)
	}
	return fmt.Sprintf("%s on namespace %q", a.Capability, a.Namespace)
}

// DeniedError is a refusal, naming the token and what it lacks.
type DeniedError struct {
	Token  string
	Action Action
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("permission denied: %s lacks %s", e.Token, e.Action)
}

// Describe names a token in messages: its description, else its accessor's
// first 8 characters; "anonymous" for no token.
func Describe(t *api.AclToken) string {
	switch {
	case t == nil:
		return "anonymous"
	case t.GetDescription() != "":
		return fmt.Sprintf("token %q", t.GetDescription())
	}
	return fmt.Sprintf("token %q", short(t.GetAccessorId()))
}

func short(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// Authorize decides whether token (nil: anonymous) may take action, with
// policies by name. A management token may do everything; an expired one
// nothing.
func Authorize(token *api.AclToken, policies map[string]*api.AclPolicy, a Action, now time.Time) error {
	if token == nil {
		return &DeniedError{Token: "anonymous", Action: a}
	}
	if exp := token.GetExpirationTime(); exp != nil && !now.Before(exp.AsTime()) {
		return fmt.Errorf("permission denied: %s expired at %s", Describe(token), exp.AsTime().UTC().Format(time.RFC3339))
	}
	if token.GetManagement() {
		return nil
	}
	for _, name := range token.GetPolicies() {
		if grants(policies[name], a) {
			return nil
		}
	}
	return &DeniedError{Token: Describe(token), Action: a}
}

func grants(p *api.AclPolicy, a Action) bool {
	switch {
	case p == nil:
		return false
	case a.Operator:
		return p.GetOperator()
	case a.Nodes != "":
		return p.GetNodes() == NodesWrite || (a.Nodes == NodesRead && p.GetNodes() == NodesRead)
	}
	has := func(ns string) bool {
		r, ok := p.GetNamespaces()[ns]
		return ok && slices.Contains(r.GetCapabilities(), a.Capability)
	}
	if has(AllNamespaces) {
		return true
	}
	return a.Namespace != "" && has(a.Namespace)
}

// NewSecret makes a token's accessor id and secret: 128 random bits each,
// as UUIDs.
func NewSecret() (accessor, secret string) {
	return uuid(), uuid()
}

func uuid() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("acl: read random: %v", err)) // crypto/rand does not fail on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// HashSecret is what Raft keeps of a secret.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// SameHash compares hashes in constant time.
func SameHash(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// PolicyNames lists policies by name, sorted.
func PolicyNames(ps map[string]*api.AclPolicy) []string {
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
