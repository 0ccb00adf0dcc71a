package cluster

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/acl"
	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
)

// proposeOne proposes one command on the leader and returns its own error.
func (s *Server) proposeOne(ctx context.Context, cmd *api.Command) error {
	errs, err := s.proposer.Propose(ctx, cmd)
	if err != nil {
		return err
	}
	return errs[0]
}

// AclBootstrap makes the management token, once in the cluster's life.
func (c *controlService) AclBootstrap(ctx context.Context, req *api.AclBootstrapRequest) (*api.AclTokenSecret, error) {
	return toLeaderReadable(ctx, c.s, func() (*api.AclTokenSecret, error) {
		if !c.s.cfg.ACL {
			return nil, status.Error(codes.FailedPrecondition, "ACLs are off: start the servers with --acl")
		}
		accessor, secret := acl.NewSecret()
		t := &api.AclToken{AccessorId: accessor, SecretHash: acl.HashSecret(secret), Description: "bootstrap token", Management: true,
			CreateTime: timestamppb.New(c.s.clock.Now())}
		err := c.s.proposeOne(ctx, (&api.UpsertAclToken{Token: t, Bootstrap: true}).Command())
		if errors.Is(err, fsm.ErrBootstrapped) {
			return nil, status.Error(codes.FailedPrecondition, "ACL bootstrap already done: the management token was made once; ask its holder, or make tokens with it")
		}
		if err != nil {
			return nil, err
		}
		return &api.AclTokenSecret{Token: redacted(t), Secret: secret}, nil
	}, func(cl api.ControlClient, ctx context.Context) (*api.AclTokenSecret, error) {
		return cl.AclBootstrap(ctx, req)
	})
}

// redacted is a token without its secret's hash, for answers.
func redacted(t *api.AclToken) *api.AclToken {
	t = clone(t)
	t.SecretHash = nil
	return t
}

func (c *controlService) AclPolicyApply(ctx context.Context, req *api.AclPolicyApplyRequest) (*api.AclPolicy, error) {
	p, err := acl.ParsePolicy(req.GetName(), []byte(req.GetRules()))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if req.GetDescription() != "" {
		p.Description = req.GetDescription()
	}
	return toLeaderReadable(ctx, c.s, func() (*api.AclPolicy, error) {
		now := timestamppb.New(c.s.clock.Now())
		p.CreateTime, p.ModifyTime = now, now
		if err := c.s.proposeOne(ctx, (&api.UpsertAclPolicy{Policy: p}).Command()); err != nil {
			return nil, err
		}
		return p, nil
	}, func(cl api.ControlClient, ctx context.Context) (*api.AclPolicy, error) {
		return cl.AclPolicyApply(ctx, req)
	})
}

func (c *controlService) AclPolicyList(ctx context.Context, _ *api.AclPolicyListRequest) (*api.AclPolicyListResponse, error) {
	if err := c.s.readyForReads(ctx); err != nil {
		return nil, err
	}
	ps := c.s.fsm.State().AclPolicies()
	resp := &api.AclPolicyListResponse{}
	for _, n := range acl.PolicyNames(ps) {
		resp.Items = append(resp.Items, ps[n])
	}
	return resp, nil
}

func (c *controlService) AclPolicyDelete(ctx context.Context, req *api.AclPolicyDeleteRequest) (*api.AclEmpty, error) {
	return toLeaderReadable(ctx, c.s, func() (*api.AclEmpty, error) {
		err := c.s.proposeOne(ctx, (&api.DeleteAclPolicy{Name: req.GetName()}).Command())
		if errors.Is(err, fsm.ErrNotFound) {
			return nil, status.Errorf(codes.NotFound, "acl policy %q not found", req.GetName())
		}
		return &api.AclEmpty{}, err
	}, func(cl api.ControlClient, ctx context.Context) (*api.AclEmpty, error) {
		return cl.AclPolicyDelete(ctx, req)
	})
}

func (c *controlService) AclTokenCreate(ctx context.Context, req *api.AclTokenCreateRequest) (*api.AclTokenSecret, error) {
	if len(req.GetPolicies()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "a token needs at least one policy: --policy NAME")
	}
	if req.GetTtlSeconds() < 0 {
		return nil, status.Error(codes.InvalidArgument, "--ttl must be positive")
	}
	return toLeaderReadable(ctx, c.s, func() (*api.AclTokenSecret, error) {
		ps := c.s.fsm.State().AclPolicies()
		for _, p := range req.GetPolicies() {
			if ps[p] == nil {
				return nil, status.Errorf(codes.NotFound, "acl policy %q not found: apply it first with jobcluster acl policy apply", p)
			}
		}
		now := c.s.clock.Now()
		accessor, secret := acl.NewSecret()
		t := &api.AclToken{AccessorId: accessor, SecretHash: acl.HashSecret(secret), Description: req.GetDescription(), Policies: req.GetPolicies(),
			CreateTime: timestamppb.New(now)}
		if ttl := req.GetTtlSeconds(); ttl > 0 {
			t.ExpirationTime = timestamppb.New(now.Add(time.Duration(ttl) * time.Second))
		}
		if err := c.s.proposeOne(ctx, (&api.UpsertAclToken{Token: t}).Command()); err != nil {
			return nil, err
		}
		return &api.AclTokenSecret{Token: redacted(t), Secret: secret}, nil
	}, func(cl api.ControlClient, ctx context.Context) (*api.AclTokenSecret, error) {
		return cl.AclTokenCreate(ctx, req)
	})
}

func (c *controlService) AclTokenList(ctx context.Context, _ *api.AclTokenListRequest) (*api.AclTokenListResponse, error) {
	if err := c.s.readyForReads(ctx); err != nil {
		return nil, err
	}
	resp := &api.AclTokenListResponse{}
	for _, t := range c.s.fsm.State().AclTokens() {
		resp.Items = append(resp.Items, redacted(t))
	}
	return resp, nil
}

func (c *controlService) AclTokenDelete(ctx context.Context, req *api.AclTokenDeleteRequest) (*api.AclEmpty, error) {
	return toLeaderReadable(ctx, c.s, func() (*api.AclEmpty, error) {
		var match []string
		for _, t := range c.s.fsm.State().AclTokens() {
			if req.GetAccessorId() != "" && strings.HasPrefix(t.GetAccessorId(), req.GetAccessorId()) {
				match = append(match, t.GetAccessorId())
			}
		}
		switch len(match) {
		case 0:
			return nil, status.Errorf(codes.NotFound, "acl token %q not found", req.GetAccessorId())
		case 1:
		default:
			return nil, status.Errorf(codes.InvalidArgument, "%q is the start of %d tokens' accessors: give more of it", req.GetAccessorId(), len(match))
		}
		return &api.AclEmpty{}, c.s.proposeOne(ctx, (&api.DeleteAclToken{AccessorId: match[0]}).Command())
	}, func(cl api.ControlClient, ctx context.Context) (*api.AclEmpty, error) {
		return cl.AclTokenDelete(ctx, req)
	})
}

func (c *controlService) AclWhoami(ctx context.Context, _ *api.AclWhoamiRequest) (*api.AclWhoamiResponse, error) {
	token, err := tokenOf(ctx, c.s.fsm.State())
	if err != nil {
		return nil, err
	}
	caller, _ := callerOf(ctx)
	resp := &api.AclWhoamiResponse{Identity: identityText(caller, token), AclEnabled: c.s.cfg.ACL}
	if token != nil {
		resp.Token = redacted(token)
	}
	return resp, nil
}

func (c *controlService) Audit(ctx context.Context, req *api.AuditRequest) (*api.AuditResponse, error) {
	if err := c.s.readyForReads(ctx); err != nil {
		return nil, err
	}
	limit := int(req.GetLimit())
	if limit <= 0 {
		limit = 100
	}
	resp := &api.AuditResponse{}
	for _, r := range c.s.fsm.State().Audit() {
		if len(resp.Items) >= limit || (req.GetSince() != nil && r.GetTime().AsTime().Before(req.GetSince().AsTime())) {
			break
		}
		if req.GetDeniedOnly() && r.GetAllowed() {
			continue
		}
		resp.Items = append(resp.Items, r)
	}
	return resp, nil
}

// RecordAuditRecords takes a follower's audit records into Raft.
func (c *controlService) RecordAuditRecords(ctx context.Context, req *api.RecordAudit) (*api.AclEmpty, error) {
	return toLeaderReadable(ctx, c.s, func() (*api.AclEmpty, error) {
		return &api.AclEmpty{}, c.s.proposeOne(ctx, req.Command())
	}, func(cl api.ControlClient, ctx context.Context) (*api.AclEmpty, error) {
		return cl.RecordAuditRecords(ctx, req)
	})
}
