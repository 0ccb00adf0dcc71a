package cluster

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/pki"
	"github.com/jobcluster/jobcluster/transport"
)

// rpcRule says who may call one RPC when TLS is on: the certificate roles
// allowed, and whether an agent may only name its own node (Kubernetes'
// NodeRestriction).
type rpcRule struct {
	roles   []pki.Role
	ownNode bool
}

var (
	clientRPC = rpcRule{roles: []pki.Role{pki.RoleClient, pki.RoleServer}}
	agentRPC  = rpcRule{roles: []pki.Role{pki.RoleAgent, pki.RoleServer}, ownNode: true}
)

// rpcRules holds a rule for every Control RPC; an RPC without one is for
// servers only, so a new RPC stays closed to clients and agents until it
// is given its rule here.
var rpcRules = map[string]rpcRule{
	api.Control_Submit_FullMethodName:             clientRPC,
	api.Control_Get_FullMethodName:                clientRPC,
	api.Control_List_FullMethodName:               clientRPC,
	api.Control_Delete_FullMethodName:             clientRPC,
	api.Control_Members_FullMethodName:            clientRPC,
	api.Control_Logs_FullMethodName:               clientRPC,
	api.Control_CreateJobFromCron_FullMethodName:  clientRPC,
	api.Control_Leave_FullMethodName:              clientRPC,
	api.Control_RemoveMember_FullMethodName:       clientRPC,
	api.Control_Watch_FullMethodName:              clientRPC,
	api.Control_CronHistory_FullMethodName:        clientRPC,
	api.Control_Notifications_FullMethodName:      clientRPC,
	api.Control_RecordAuditRecords_FullMethodName: {roles: []pki.Role{pki.RoleServer}},
	api.Control_AclBootstrap_FullMethodName:       clientRPC,
	api.Control_AclPolicyApply_FullMethodName:     clientRPC,
	api.Control_AclPolicyList_FullMethodName:      clientRPC,
	api.Control_AclPolicyDelete_FullMethodName:    clientRPC,
	api.Control_AclTokenCreate_FullMethodName:     clientRPC,
	api.Control_AclTokenList_FullMethodName:       clientRPC,
	api.Control_AclTokenDelete_FullMethodName:     clientRPC,
	api.Control_AclWhoami_FullMethodName:          clientRPC,
	api.Control_Audit_FullMethodName:              clientRPC,
	api.Control_Top_FullMethodName:                clientRPC,
	api.Control_JobCounts_FullMethodName:          clientRPC,
	api.Control_JobPage_FullMethodName:            clientRPC,
	api.Control_WatchPods_FullMethodName:          agentRPC,
	api.Control_ReportPodStatus_FullMethodName:    agentRPC,
	api.Control_Heartbeat_FullMethodName:          agentRPC,
	// PodsExist names no node: its answer is narrowed to the agent's own
	// pods instead (see PodsExist).
	api.Control_PodsExist_FullMethodName: {roles: agentRPC.roles},
}

// nodeNamer is a request that names the node it acts for.
type nodeNamer interface{ GetNode() string }

// authorize decides whether caller may make a call to method, forwarded
// (by a server, on someone else's behalf) or not; req is the request,
// or nil when it is not read yet (a stream), which defers the node check.
// It returns a PermissionDenied status naming what is missing.
func authorize(method string, caller pki.Identity, forwarded bool, req any) error {
	rpc := path.Base(method)
	if forwarded && caller.Role != pki.RoleServer {
		return status.Errorf(codes.PermissionDenied, "permission denied: only servers forward requests, and %s certificate %q is not a server's", caller.Role, caller.Name)
	}
	rule, ok := rpcRules[method]
	if !ok {
		rule = rpcRule{roles: []pki.Role{pki.RoleServer}}
	}
	if !slices.Contains(rule.roles, caller.Role) {
		return status.Errorf(codes.PermissionDenied, "permission denied: %s certificate %q may not call %s, which needs a %s certificate", caller.Role, caller.Name, rpc, rolesText(rule.roles))
	}
	if rule.ownNode && caller.Role == pki.RoleAgent && req != nil {
		node := ""
		if n, ok := req.(nodeNamer); ok {
			node = n.GetNode()
		}
		if node != caller.Name {
			return status.Errorf(codes.PermissionDenied, "permission denied: agent %q may call %s only for its own node, not for node %q", caller.Name, rpc, node)
		}
	}
	return nil
}

func rolesText(roles []pki.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

// callerKey carries the caller's certificate identity in a request's
// context.
type callerKey struct{}

// callerOf is the identity of the certificate a request came with; ok is
// false when TLS is off.
func callerOf(ctx context.Context) (pki.Identity, bool) {
	id, ok := ctx.Value(callerKey{}).(pki.Identity)
	return id, ok
}

// forwarded reports whether a server forwarded the request.
func forwarded(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	return ok && len(md.Get(forwardedKey)) > 0
}

// authenticate reads the caller's identity from its certificate.
func authenticate(ctx context.Context) (pki.Identity, error) {
	id, ok := transport.PeerIdentity(ctx)
	if !ok {
		return pki.Identity{}, status.Error(codes.Unauthenticated, "no client certificate with a jobcluster identity: pass --ca-file, --cert-file and --key-file")
	}
	return id, nil
}

// authInterceptors enforce rpcRules at the service edge. With TLS off
// they are not installed and every caller may do everything.
func authInterceptors(s *Server) []grpc.ServerOption {
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		id, err := authenticate(ctx)
		if err != nil {
			return nil, err
		}
		if err := authorize(info.FullMethod, id, forwarded(ctx), req); err != nil {
			return nil, err
		}
		if err := s.aclCheck(ctx, id, info.FullMethod, req); err != nil {
			return nil, err
		}
		return handler(context.WithValue(ctx, callerKey{}, id), req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		id, err := authenticate(ctx)
		if err != nil {
			return err
		}
		fwd := forwarded(ctx)
		if err := authorize(info.FullMethod, id, fwd, nil); err != nil {
			return err
		}
		return handler(srv, &authorizedStream{ServerStream: ss, ctx: context.WithValue(ctx, callerKey{}, id), method: info.FullMethod, caller: id, forwarded: fwd, s: s})
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream)}
}

// authorizedStream checks every request a stream receives against the
// rules, with the caller's identity in its context.
type authorizedStream struct {
	grpc.ServerStream
	ctx       context.Context
	method    string
	caller    pki.Identity
	forwarded bool
	s         *Server
}

func (s *authorizedStream) Context() context.Context { return s.ctx }

func (s *authorizedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := authorize(s.method, s.caller, s.forwarded, m); err != nil {
		return err
	}
	return s.s.aclCheck(s.ctx, s.caller, s.method, m)
}

// foreignPods lists the pods among updates that exist, are the ones the
// update means (same uid), and are bound to a node other than node. The
// state machine ignores updates on missing or replaced pods anyway.
func foreignPods(node string, updates []*api.PodStatusUpdate, pod func(name string) *api.Pod) []string {
	var out []string
	for _, u := range updates {
		p := pod(u.GetName())
		if p == nil || (u.GetUid() != "" && u.GetUid() != p.GetMetadata().GetUid()) {
			continue
		}
		if p.GetSpec().GetNodeName() != node {
			out = append(out, fmt.Sprintf("%s (on node %q)", u.GetName(), p.GetSpec().GetNodeName()))
		}
	}
	return out
}
