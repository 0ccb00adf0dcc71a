// Package transport is how jobcluster endpoints reach each other: one
// function dials a server or agent over gRPC, one builds the gRPC server
// that answers, and one binds a daemon's HTTP listener. Clients, servers
// and agents all go through it, so a change to how they connect (TLS, for
// one) is made here once.
package transport

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jobcluster/jobcluster/api"
)

// Config says how connections are made and accepted. The zero value is
// what every endpoint uses today: plaintext TCP and messages of up to
// api.MaxMessageBytes each way.
type Config struct {
	// Dialer opens the network connection under a dialled gRPC channel;
	// nil dials TCP. A client that explains failures to its user wraps
	// it to see which addresses accepted a connection.
	Dialer func(ctx context.Context, addr string) (net.Conn, error)
	// UnaryInterceptors and StreamInterceptors wrap every call a server
	// built by NewServer answers, first given outermost (metrics, later
	// authentication).
	UnaryInterceptors  []grpc.UnaryServerInterceptor
	StreamInterceptors []grpc.StreamServerInterceptor
}

// Dial prepares a gRPC channel to the jobcluster endpoint at addr (host:port).
// Nothing is dialled before the first call made on it; the caller closes it.
func Dial(addr string, cfg Config) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(api.MaxMessageBytes), grpc.MaxCallSendMsgSize(api.MaxMessageBytes)),
	}
	if cfg.Dialer != nil {
		opts = append(opts, grpc.WithContextDialer(cfg.Dialer))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return cc, nil
}

// NewServer returns a gRPC server that accepts what Dial sends: the same
// message limits, and later the same credentials.
func NewServer(cfg Config) *grpc.Server {
	return grpc.NewServer(
		grpc.MaxRecvMsgSize(api.MaxMessageBytes), grpc.MaxSendMsgSize(api.MaxMessageBytes),
		grpc.ChainUnaryInterceptor(cfg.UnaryInterceptors...),
		grpc.ChainStreamInterceptor(cfg.StreamInterceptors...),
	)
}
