package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/pki"
	"github.com/jobcluster/jobcluster/transport"
)

const (
	// attemptTimeout bounds one call to one server; after it the next
	// address is tried.
	attemptTimeout = 3 * time.Second
	// writeCallTimeout bounds a write to a server that has accepted the
	// connection: a write waits for Raft, which a busy cluster may take a
	// few seconds over, and retrying it early would make its outcome
	// ambiguous (a delete answered "not found", a create "already exists").
	writeCallTimeout = 15 * time.Second
	// firstBackoff and maxBackoff pace the rounds of a write that waits for
	// the servers to elect a leader.
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = time.Second
)

// client reaches the servers named by --addr, trying them in order. It is
// used by one command at a time and is not safe for concurrent use.
type client struct {
	addrs   []string
	attempt time.Duration
	backoff time.Duration
	conns   map[string]*grpc.ClientConn
	dials   *dialLog
	// tls, when set, makes every connection mutual TLS, accepting only
	// servers' certificates.
	tls *transport.TLS
	// namespace is the one the command works in (-n); rawNamespace is
	// the flag as given, empty when not given.
	namespace, rawNamespace string
	// token is the ACL token's secret every call carries (--token).
	token string
	// listChunk is the page size of lists (get --chunk-size); 0 lists in
	// one call.
	listChunk int64
	// mayHaveApplied is set once a write's attempt failed in a way that
	// leaves its outcome unknown (the leader was lost while committing
	// it, or no answer came): a later attempt may find what it made.
	mayHaveApplied bool
}

// newClient prepares connections to the comma-separated addresses; nothing
// is dialled before the first call.
func newClient(addrList string) (*client, error) {
	var addrs []string
	for _, a := range strings.Split(addrList, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("no server address: set --addr or JOBCLUSTER_ADDR")
	}
	return &client{
		addrs:     addrs,
		attempt:   attemptTimeout,
		backoff:   firstBackoff,
		conns:     make(map[string]*grpc.ClientConn),
		dials:     newDialLog(),
		listChunk: listChunk,
	}, nil
}

// Close closes every connection the client opened.
func (c *client) Close() error {
	var errs []error
	for addr, cc := range c.conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close connection to %s: %w", addr, err))
		}
	}
	return errors.Join(errs...)
}

func (c *client) dial(addr string) (*grpc.ClientConn, error) {
	if cc, ok := c.conns[addr]; ok {
		return cc, nil
	}
	cc, err := transport.Dial(addr, transport.Config{Dialer: c.dials.dialer(addr), TLS: c.tls, Token: c.token}, pki.RoleServer)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	c.conns[addr] = cc
	return cc, nil
}

// call is one RPC made by a command; it must only call the server and keep
// the answer, so that a failure can be retried on another server.
type call func(ctx context.Context, cl api.ControlClient) error

// read runs fn on the first server that answers. Reads are served from
// the asked server's replicated state, so any server will do.
func (c *client) read(ctx context.Context, fn call) error {
	return c.do(ctx, false, fn)
}

// write runs fn like read, and while the servers answer that there is no
// leader (or do not answer in time), keeps cycling through the addresses
// with a growing pause until ctx ends.
func (c *client) write(ctx context.Context, fn call) error {
	return c.do(ctx, true, fn)
}

func (c *client) do(ctx context.Context, retry bool, fn call) error {
	var f failures
	pause := c.backoff
	for {
		for _, addr := range c.addrs {
			bound := c.bound(ctx)
			err := c.attemptCall(ctx, addr, bound, retry, fn)
			if err == nil {
				return nil
			}
			if retry && outcomeUnknown(err) {
				c.mayHaveApplied = true
			}
			if final := f.add(c.dials, addr, bound, err); final != nil {
				return c.unknown(retry, final)
			}
			if ctx.Err() != nil {
				return c.unknown(retry, c.explain(f.giveUp(c.addrs, c.dials, ctx.Err())))
			}
		}
		if !retry || (f.noLeader == nil && !f.timedOut) {
			return c.unknown(retry, c.explain(f.giveUp(c.addrs, c.dials, nil)))
		}
		select {
		case <-ctx.Done():
			return c.unknown(retry, c.explain(f.giveUp(c.addrs, c.dials, ctx.Err())))
		case <-time.After(pause):
		}
		pause = min(2*pause, maxBackoff)
	}
}

// bound is how long the next attempt may take: the attempt timeout, or
// what is left of the command's time if that is less.
func (c *client) bound(ctx context.Context) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return max(0, min(c.attempt, time.Until(deadline)))
	}
	return c.attempt
}

// attemptCall runs fn against one address, bounded by the attempt timeout.
// A write first waits, within the attempt timeout, for the connection to
// be ready, and then gives the server writeCallTimeout to answer.
func (c *client) attemptCall(ctx context.Context, addr string, bound time.Duration, write bool, fn call) error {
	cc, err := c.dial(addr)
	if err != nil {
		return err
	}
	timeout := c.attempt
	if write {
		if cc, err = c.ready(ctx, addr); err != nil {
			return err
		}
		if cc.GetState() == connectivity.Ready {
			timeout = max(timeout, writeCallTimeout)
			bound = timeout
			if deadline, ok := ctx.Deadline(); ok {
				bound = max(0, min(timeout, time.Until(deadline)))
			}
		}
	}
	// A write sent on a ready connection that gets no answer may have
	// been applied all the same.
	sent := write && cc.GetState() == connectivity.Ready
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = fn(actx, api.NewControlClient(cc))
	if err != nil && sent && actx.Err() != nil {
		c.mayHaveApplied = true
	}
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return status.Errorf(codes.DeadlineExceeded, "%s: no answer within %s", addr, roundBound(bound))
	}
	return err
}

// openStream calls open on the first server that can be reached. open
// makes the call and reads the first message, so that a server that cannot
// serve the stream is skipped before anything is printed. The stream itself
// is not bounded by the attempt timeout, only by ctx.
func (c *client) openStream(ctx context.Context, open call) error {
	var f failures
	for _, addr := range c.addrs {
		bound := c.bound(ctx)
		cc, err := c.ready(ctx, addr)
		if err == nil {
			err = open(ctx, api.NewControlClient(cc))
		}
		if err == nil {
			return nil
		}
		if final := f.add(c.dials, addr, bound, err); final != nil {
			return final
		}
		if ctx.Err() != nil {
			return c.explain(f.giveUp(c.addrs, c.dials, ctx.Err()))
		}
	}
	return c.explain(f.giveUp(c.addrs, c.dials, nil))
}

// ready waits up to the attempt timeout for the connection to addr to be
// established. A connection that failed is returned as well: the call made
// on it fails at once with gRPC's description of the cause.
func (c *client) ready(ctx context.Context, addr string) (*grpc.ClientConn, error) {
	cc, err := c.dial(addr)
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, c.attempt)
	defer cancel()
	cc.Connect()
	for {
		state := cc.GetState()
		if state == connectivity.Ready || state == connectivity.TransientFailure {
			return cc, nil
		}
		if !cc.WaitForStateChange(actx, state) {
			if ctx.Err() != nil {
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return nil, status.Errorf(codes.DeadlineExceeded, "%s: no answer within %s", addr, c.attempt)
		}
	}
}

// explain adds to a server that broke the connection off what TLS may
// have to do with it: a TLS server hangs up on a plaintext client, and
// on a certificate from another CA.
func (c *client) explain(err error) error {
	var na *noAnswerError
	if !errors.As(err, &na) || na.cause == nil {
		return err
	}
	cause := na.cause.Error()
	switch {
	case c.tls == nil:
		na.hint = "check that --addr names a jobcluster server's RPC address; if the cluster uses TLS, pass --ca-file, --cert-file and --key-file (or JOBCLUSTER_CACERT, JOBCLUSTER_CLIENT_CERT, JOBCLUSTER_CLIENT_KEY)"
	case strings.Contains(cause, "first record does not look like a TLS handshake"):
		na.hint = "the server does not speak TLS: drop --ca-file, --cert-file and --key-file for it"
	default:
		// Under TLS 1.3 a server refuses a client certificate after the
		// handshake, so the client may only see the connection drop.
		na.hint = "the server may have refused this certificate: check that --ca-file is the cluster's CA and that --cert-file is a client certificate it signed"
	}
	return err
}

// in returns a copy of c that works in namespace ns, sharing its
// connections.
func (c *client) in(ns string) *client {
	cp := *c
	cp.namespace = api.NamespaceOr(ns)
	return &cp
}

// withClient runs fn with a client for the servers named by --addr and a
// context bounded by --timeout, and closes the client's connections when
// fn returns. Every client command goes through it.
func (o *clientOptions) withClient(cmd *cobra.Command, fn func(ctx context.Context, c *client) error) error {
	tl, err := o.tls.load()
	if err != nil {
		return err
	}
	c, err := newClient(o.addrs)
	if err != nil {
		return err
	}
	c.tls = tl
	c.namespace, c.rawNamespace = o.ns(), o.namespace
	c.token = o.token
	defer c.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	return fn(ctx, c)
}

// timeoutSet reports whether the user gave --timeout. Commands that follow
// progress (submit --wait, logs -f) run unbounded unless it was given.
func timeoutSet(cmd *cobra.Command) bool {
	f := cmd.Flags().Lookup("timeout")
	return f != nil && f.Changed
}

// outcomeUnknown reports a server's answer that a write may still have
// been applied: the leader was lost while committing it, or did not
// commit it in time.
func outcomeUnknown(err error) bool {
	return strings.Contains(status.Convert(err).Message(), "outcome unknown")
}

// unknown adds to a write's final error, when an earlier attempt's
// outcome is unknown, that it may have been applied all the same.
func (c *client) unknown(write bool, err error) error {
	if !write || !c.mayHaveApplied || err == nil {
		return err
	}
	return &mayHaveAppliedError{err: err}
}

// mayHaveAppliedError is a write's final error after an attempt whose
// outcome is unknown.
type mayHaveAppliedError struct{ err error }

func (e *mayHaveAppliedError) Error() string {
	return e.err.Error() + "\n" + mayHaveAppliedNote
}

func (e *mayHaveAppliedError) Unwrap() error { return e.err }

// mayHaveAppliedNote tells what a write whose outcome is unknown means to
// its user.
const mayHaveAppliedNote = "The outcome is unknown: an earlier attempt may have been applied before the leader changed. Check with `jobcluster get` before you try again."
