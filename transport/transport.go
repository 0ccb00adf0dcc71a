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
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/pki"
)

// Config says how connections are made and accepted. The zero value is
// plaintext TCP with messages of up to api.MaxMessageBytes each way.
type Config struct {
	// Dialer opens the network connection under a dialled gRPC channel;
	// nil dials TCP. A client that explains failures to its user wraps
	// it to see which addresses accepted a connection.
	Dialer func(ctx context.Context, addr string) (net.Conn, error)
	// UnaryInterceptors and StreamInterceptors wrap every call a server
	// built by NewServer answers, first given outermost (metrics), before
	// any given as options (authorization).
	UnaryInterceptors  []grpc.UnaryServerInterceptor
	StreamInterceptors []grpc.StreamServerInterceptor
	// HTTPMiddleware, when set, wraps every request the HTTP listener of
	// ListenHTTP serves (metrics).
	HTTPMiddleware func(http.Handler) http.Handler
	// Token, when set, is the ACL token's secret every call of a Dial'd
	// channel carries ("authorization: Bearer TOKEN").
	Token string
	// TLS, when set, makes every connection dialled or accepted with this
	// Config mutual TLS 1.3 under the cluster CA; nil is plaintext.
	TLS *TLS
}

// Dial prepares a gRPC channel to the jobcluster endpoint at addr (host:port).
// With TLS the peer must present a certificate from the CA whose role is
// in peerRoles (any role when none are given). Nothing is dialled before
// the first call made on it; the caller closes it.
func Dial(addr string, cfg Config, peerRoles ...pki.Role) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = credentials.NewTLS(cfg.TLS.clientConfig(peerRoles))
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(api.MaxMessageBytes), grpc.MaxCallSendMsgSize(api.MaxRequestBytes)),
		grpc.WithStaticStreamWindowSize(streamWindow), grpc.WithStaticConnWindowSize(connWindow),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: reconnectBackoff, MinConnectTimeout: minConnectTimeout}),
	}
	if cfg.Dialer != nil {
		opts = append(opts, grpc.WithContextDialer(cfg.Dialer))
	}
	if cfg.Token != "" {
		bearer := "Bearer " + cfg.Token
		opts = append(opts,
			grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, o ...grpc.CallOption) error {
				return invoker(metadata.AppendToOutgoingContext(ctx, "authorization", bearer), method, req, reply, cc, o...)
			}),
			grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, o ...grpc.CallOption) (grpc.ClientStream, error) {
				return streamer(metadata.AppendToOutgoingContext(ctx, "authorization", bearer), desc, cc, method, o...)
			}))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return cc, nil
}

// reconnectBackoff paces a channel's attempts to reach a peer it cannot
// connect to. gRPC's default waits 1 s after the first failure and 1.6
// times longer after each next one, up to 2 minutes: a server restarted
// a few times in a row, or down through an upgrade, was then not tried
// again for seconds to minutes after it was back, while agents needed it
// to renew their leases (3 s by default) and followers to forward to it
// as leader. Here a peer is tried again within about half a second. A
// refused connection costs the peer next to nothing, and one that does
// not answer holds each attempt for minConnectTimeout.
var reconnectBackoff = backoff.Config{
	BaseDelay:  100 * time.Millisecond,
	Multiplier: 1.6,
	Jitter:     0.2,
	MaxDelay:   500 * time.Millisecond,
}

// minConnectTimeout bounds one connection attempt, TCP and TLS handshake
// together: gRPC's default, which grpc.ConnectParams must be given again
// (left zero, an attempt would get only the backoff's delay).
const minConnectTimeout = 20 * time.Second

// Every channel and server has fixed HTTP/2 flow-control windows, which
// turns off gRPC's bandwidth estimator. The estimator answers data with a
// PING to size the windows: a round trip, and a wake on both ends, for each
// small call, which is most of what jobcluster endpoints make (a lease
// renewal every half second from every agent, a pod set per change).
// The estimator grows both windows up to 16 MiB; fixed at 4 MiB per
// stream and 16 MiB per connection, a large answer (a list of 100,000
// pods) waits for the receiver's window update once every few MiB, a
// round trip that costs nothing over loopback or a LAN, and a peer that
// stops reading still holds no more than that of the sender's data.
const (
	streamWindow = 4 << 20
	connWindow   = 16 << 20
)

// NewServer returns a gRPC server that accepts what Dial sends: the same
// message limits and, with TLS, callers with a certificate from the CA
// (of any role: which role may call what is for the service to decide,
// see PeerIdentity). Its codec is gRPC's proto codec, which also sends an
// Encoded message as it is. opts add to those, such as interceptors.
func NewServer(cfg Config, opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(api.MaxRequestBytes), grpc.MaxSendMsgSize(api.MaxMessageBytes),
		grpc.StaticStreamWindowSize(streamWindow), grpc.StaticConnWindowSize(connWindow),
		grpc.ChainUnaryInterceptor(cfg.UnaryInterceptors...),
		grpc.ChainStreamInterceptor(cfg.StreamInterceptors...),
		serverCodec(),
	}, opts...)
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS.serverConfig([]string{"h2"}, nil))))
	}
	return grpc.NewServer(opts...)
}
