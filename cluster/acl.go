package cluster

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/acl"
	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
	"github.com/jobcluster/jobcluster/pki"
)

// Metadata keys of ACL tokens: clients send "authorization: Bearer S";
// a daemon calling its own server for a user (the web UI, the Kubernetes
// API) marks the call with onBehalfKey, so that its server certificate
// does not stand for the user.
const (
	authorizationKey = "authorization"
	onBehalfKey      = "x-jobcluster-on-behalf"
)

// aclNeeds says what a call needs with ACLs on: the actions a token must
// be allowed, or open for calls any caller may make.
func aclNeeds(method string, req any) (actions []acl.Action, open bool) {
	read := func(kind, ns string) acl.Action {
		r, _ := api.LookupResource(kind)
		switch r {
		case api.NodeResource:
			return acl.Action{Nodes: acl.NodesRead}
		case api.SecretResource:
			return acl.Action{Capability: acl.Secrets, Namespace: ns}
		}
		return acl.Action{Capability: acl.Read, Namespace: ns}
	}
	switch r := req.(type) {
	case *api.SubmitRequest:
		seen := map[string]bool{}
		for _, o := range r.GetObjects() {
			ns := api.MetadataOf(o).GetNamespace()
			if ns == "" {
				ns = api.NamespaceOr(r.GetNamespace())
			}
			if !seen[ns] {
				seen[ns] = true
				actions = append(actions, acl.Action{Capability: acl.Submit, Namespace: ns})
			}
		}
		return actions, false
	case *api.GetRequest:
		return []acl.Action{read(r.GetKind(), api.NamespaceOr(r.GetNamespace()))}, false
	case *api.ListRequest:
		return []acl.Action{read(r.GetKind(), r.GetNamespace())}, false
	case *api.WatchRequest:
		return []acl.Action{read(r.GetKind(), r.GetNamespace())}, false
	case *api.DeleteRequest:
		if rs, _ := api.LookupResource(r.GetKind()); rs == api.NodeResource {
			return []acl.Action{{Nodes: acl.NodesWrite}}, false
		}
		return []acl.Action{{Capability: acl.Submit, Namespace: api.NamespaceOr(r.GetNamespace())}}, false
	case *api.LogsRequest:
		return []acl.Action{{Capability: acl.Logs, Namespace: api.NamespaceOr(r.GetNamespace())}}, false
	case *api.CreateJobFromCronRequest:
		return []acl.Action{{Capability: acl.Submit, Namespace: api.NamespaceOr(r.GetNamespace())}}, false
	case *api.TopRequest:
		if r.GetKind() == "nodes" {
			return []acl.Action{{Nodes: acl.NodesRead}}, false
		}
		ns := api.NamespaceOr(r.GetNamespace())
		if r.GetAllNamespaces() {
			ns = ""
		}
		return []acl.Action{{Capability: acl.Read, Namespace: ns}}, false
	case *api.JobCountsRequest:
		// The counts cover every namespace, as a list of them does.
		return []acl.Action{read(api.JobResource.Singular, "")}, false
	case *api.JobPageRequest:
		// A page counts and names the namespaces of every Job, whichever
		// namespace its rows are of.
		return []acl.Action{read(api.JobResource.Singular, "")}, false
	case *api.CronHistoryRequest:
		return []acl.Action{{Capability: acl.Read, Namespace: api.NamespaceOr(r.GetNamespace())}}, false
	case *api.AclBootstrapRequest, *api.AclWhoamiRequest:
		return nil, true
	}
	switch path.Base(method) {
	case "WatchPods", "ReportPodStatus", "Heartbeat", "PodsExist", "RecordAuditRecords":
		return nil, true // agents' and servers' calls: their certificates decide (rpcRules)
	}
	// Members, Leave, RemoveMember, the ACL's own calls, Audit and
	// Notifications are the operator's.
	return []acl.Action{{Operator: true}}, false
}

// writeMethods are audited.
var writeMethods = map[string]bool{
	"Submit": true, "Delete": true, "CreateJobFromCron": true, "Leave": true, "RemoveMember": true,
	"AclBootstrap": true, "AclPolicyApply": true, "AclPolicyDelete": true, "AclTokenCreate": true, "AclTokenDelete": true,
}

// tokenOf finds the token whose secret the call carries: nil without one,
// an Unauthenticated error for a secret no token has.
func tokenOf(ctx context.Context, st *fsm.State) (*api.AclToken, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(authorizationKey) {
		secret, ok := strings.CutPrefix(v, "Bearer ")
		if !ok || secret == "" {
			continue
		}
		if t := st.AclTokenBySecret(acl.HashSecret(secret)); t != nil {
			return t, nil
		}
		return nil, status.Error(codes.Unauthenticated, "ACL token not found: it was deleted, or the secret is mistyped")
	}
	return nil, nil
}

// onBehalf reports a call a daemon makes for a user.
func onBehalf(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	return len(md.Get(onBehalfKey)) > 0 || len(md.Get(authorizationKey)) > 0
}

// aclCheck applies the ACL to one call, after the certificate rules, and
// audits it when it writes. Servers calling for themselves, and calls a
// server forwarded (checked where they arrived), pass.
func (s *Server) aclCheck(ctx context.Context, caller pki.Identity, method string, req any) error {
	if !s.cfg.ACL || forwarded(ctx) {
		return nil
	}
	if caller.Role == pki.RoleServer && !onBehalf(ctx) {
		return nil
	}
	actions, open := aclNeeds(method, req)
	if caller.Role == pki.RoleAgent || open {
		return nil
	}
	st := s.fsm.State()
	token, err := tokenOf(ctx, st)
	if err == nil {
		policies := st.AclPolicies()
		for _, a := range actions {
			if err = acl.Authorize(token, policies, a, s.clock.Now()); err != nil {
				break
			}
		}
	}
	if writeMethods[path.Base(method)] {
		s.audit(ctx, caller, token, method, req, err)
	}
	if err != nil {
		if status.Code(err) == codes.Unauthenticated {
			return err
		}
		return status.Error(codes.PermissionDenied, err.Error())
	}
	return nil
}

// identityText names who made a call, for the audit trail.
func identityText(caller pki.Identity, token *api.AclToken) string {
	who := "anonymous"
	if token != nil {
		who = acl.Describe(token) + " (accessor " + shortID(token.GetAccessorId()) + ")"
	}
	if caller.Role != "" {
		who += " via " + string(caller.Role) + " certificate " + caller.Name
	}
	return who
}

func shortID(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// audit records one write or refused write.
func (s *Server) audit(ctx context.Context, caller pki.Identity, token *api.AclToken, method string, req any, err error) {
	rec := &api.AuditRecord{Time: timestamppb.New(s.clock.Now()), Identity: identityText(caller, token), Method: path.Base(method),
		Allowed: err == nil, Server: s.cfg.Name}
	if err != nil {
		rec.Reason = err.Error()
	}
	switch r := req.(type) {
	case *api.SubmitRequest:
		var names []string
		for _, o := range r.GetObjects() {
			names = append(names, strings.ToLower(api.KindOf(o))+"/"+api.NameOf(o))
			ns := api.MetadataOf(o).GetNamespace()
			if ns == "" {
				ns = r.GetNamespace()
			}
			rec.Namespace = api.NamespaceOr(ns)
		}
		rec.Name = strings.Join(names, ",")
	case *api.DeleteRequest:
		rec.Kind, rec.Name, rec.Namespace = r.GetKind(), r.GetName(), api.NamespaceOr(r.GetNamespace())
	case *api.CreateJobFromCronRequest:
		rec.Kind, rec.Name, rec.Namespace = "job", r.GetJobName(), api.NamespaceOr(r.GetNamespace())
	case *api.AclPolicyApplyRequest:
		rec.Kind, rec.Name = "aclpolicy", r.GetName()
	case *api.AclPolicyDeleteRequest:
		rec.Kind, rec.Name = "aclpolicy", r.GetName()
	case *api.AclTokenDeleteRequest:
		rec.Kind, rec.Name = "acltoken", shortID(r.GetAccessorId())
	case *api.RemoveMemberRequest:
		rec.Kind, rec.Name = "member", r.GetName()
	}
	s.auditor.add(rec)
}

// auditor batches audit records and hands them to Raft (through the
// leader), bounded: past maxAuditBacklog waiting records, new ones are
// counted and replaced by one record saying how many were dropped.
type auditor struct {
	s       *Server
	mu      sync.Mutex
	pending []*api.AuditRecord
	dropped int
	wake    chan struct{}
}

const (
	maxAuditBacklog = 10000
	auditBatch      = 500
	// auditLinger gathers the records of many writes into one entry, so
	// that auditing costs a Raft commit now and then, not one per write.
	auditLinger = 250 * time.Millisecond
)

func newAuditor(s *Server) *auditor { return &auditor{s: s, wake: make(chan struct{}, 1)} }

func (a *auditor) add(r *api.AuditRecord) {
	a.mu.Lock()
	if len(a.pending) >= maxAuditBacklog {
		a.dropped++
	} else {
		a.pending = append(a.pending, r)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *auditor) take() []*api.AuditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := min(len(a.pending), auditBatch)
	batch := append([]*api.AuditRecord(nil), a.pending[:n]...)
	a.pending = a.pending[n:]
	if a.dropped > 0 && len(batch) < auditBatch {
		batch = append(batch, &api.AuditRecord{Time: timestamppb.New(a.s.clock.Now()), Identity: "server " + a.s.cfg.Name,
			Method: "AuditDropped", Reason: fmt.Sprintf("%d audit records dropped: more writes than the trail takes", a.dropped), Server: a.s.cfg.Name})
		a.dropped = 0
	}
	return batch
}

// run hands the records on until ctx ends; a batch that cannot be
// recorded (no leader) is retried.
func (a *auditor) run(ctx context.Context) {
	var batch []*api.AuditRecord
	for {
		if len(batch) == 0 {
			batch = a.take()
		}
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-a.wake:
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(auditLinger):
			}
			continue
		}
		if err := a.record(ctx, batch); err != nil {
			a.s.logger.Debug("record audit", "records", len(batch), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		batch = nil
	}
}

func (a *auditor) record(ctx context.Context, batch []*api.AuditRecord) error {
	cmd := &api.RecordAudit{Records: batch}
	if a.s.IsLeader() {
		_, err := a.s.proposer.Propose(ctx, cmd.Command())
		return err
	}
	addr := a.s.leaderRPCAddr()
	if addr == "" {
		return a.s.noLeader()
	}
	cl, err := a.s.peers.control(addr)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = cl.RecordAuditRecords(cctx, cmd)
	return err
}
