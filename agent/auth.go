package agent

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/pki"
	"github.com/jobcluster/jobcluster/transport"
)

// checkIdentity makes sure the agent's certificate, if any, names it: an
// agent is known to the servers by the node name in its certificate. A
// server certificate also serves, as in `jobcluster dev`, where one
// server and one agent share a process.
func checkIdentity(cfg Config) error {
	tl := cfg.Transport.TLS
	if tl == nil {
		return nil
	}
	id := tl.Identity()
	switch {
	case id.Role == pki.RoleServer:
		return nil
	case id.Role != pki.RoleAgent:
		return fmt.Errorf("certificate %s is %s's, a %s certificate: an agent needs an agent certificate (jobcluster tls cert create --agent --name %s)", tl.Files().CertFile, id.Name, id.Role, cfg.Name)
	case id.Name != cfg.Name:
		return fmt.Errorf("certificate %s is for agent %q, not %q: start the agent with --name %s or make a certificate with jobcluster tls cert create --agent --name %s", tl.Files().CertFile, id.Name, cfg.Name, id.Name, cfg.Name)
	}
	return nil
}

// serversOnly lets only server certificates call the agent's RPCs (pod
// logs are for the servers to proxy). With TLS off it is not installed.
func serversOnly() []grpc.ServerOption {
	check := func(ctx context.Context) error {
		id, ok := transport.PeerIdentity(ctx)
		if !ok {
			return status.Error(codes.Unauthenticated, "no client certificate with a jobcluster identity")
		}
		if id.Role != pki.RoleServer {
			return status.Errorf(codes.PermissionDenied, "permission denied: %s certificate %q may not call an agent; only servers may", id.Role, id.Name)
		}
		return nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if err := check(ctx); err != nil {
				return nil, err
			}
			return handler(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			if err := check(ss.Context()); err != nil {
				return err
			}
			return handler(srv, ss)
		}),
	}
}
