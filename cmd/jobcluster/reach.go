package main

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// dialLog records how the client's last TCP connection attempt to each
// server address went, so that a failed command can tell a server that
// is not there from one that is there but does not answer. gRPC dials
// from its own goroutines, hence the lock.
type dialLog struct {
	mu   sync.Mutex
	last map[string]error // by address as given; nil means connected
}

func newDialLog() *dialLog { return &dialLog{last: map[string]error{}} }

// dialer returns the function gRPC dials target with. gRPC hands it the
// resolved address, which may differ from target (a host name).
func (l *dialLog) dialer(target string) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if ctx.Err() != nil && err != nil {
			// gRPC gave up on this dial; it says nothing about the server.
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.last[target] = err
		return conn, err
	}
}

// outcome reports how the last TCP connection attempt to addr ended:
// tried is false before any attempt ended, err is nil when it connected.
func (l *dialLog) outcome(addr string) (tried bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	err, tried = l.last[addr]
	return tried, err
}

// connected reports whether the last TCP connection attempt to addr
// succeeded.
func (l *dialLog) connected(addr string) bool {
	tried, err := l.outcome(addr)
	return tried && err == nil
}

// failures collects why the servers tried so far did not do a command's
// work, most telling first: an answer from a server, then a server that
// took the connection but did not answer, then no connection at all.
type failures struct {
	// noLeader is a server's answer that no leader can take the write.
	noLeader error
	// unavailable is a server's answer that it cannot serve now, such as
	// one still replaying its log.
	unavailable error
	// silent lists the addresses that took a connection and gave no
	// answer within the attempt timeout.
	silent []string
	within time.Duration
	// timedOut is set when any attempt ran out of time, connected or not.
	timedOut bool
	// broken is the last connection that was made but failed before an
	// answer came (closed, not speaking gRPC), and at which address.
	broken     error
	brokenAddr string
	// unreached is the last failure to connect at all, and its address.
	unreached     error
	unreachedAddr string
}

// add classifies err, the failure of one attempt at addr with the given
// bound. It returns the error that ends the command when no other server
// should be tried.
func (f *failures) add(log *dialLog, addr string, bound time.Duration, err error) (final error) {
	if _, ok := status.FromError(err); !ok {
		return err
	}
	connected := log.connected(addr)
	switch {
	case isNoLeader(err):
		f.noLeader = statusError(err)
	case isCatchingUp(err):
		f.unavailable = statusError(err)
	case isAttemptTimeout(err):
		f.timedOut = true
		if !connected {
			f.unreached = status.Errorf(codes.DeadlineExceeded, "%s: no connection within %s", addr, roundBound(bound))
			f.unreachedAddr = addr
			break
		}
		if !slices.Contains(f.silent, addr) {
			f.silent = append(f.silent, addr)
		}
		f.within = max(f.within, roundBound(bound))
	case isTransport(err):
		if connected {
			f.broken, f.brokenAddr = err, addr
		} else {
			f.unreached, f.unreachedAddr = err, addr
		}
	default:
		return statusError(err)
	}
	return nil
}

// roundBound makes an attempt's time limit readable, to two significant
// digits: 3s, 300ms, 1.2s, 250ms. The time left of a --timeout, taken a
// moment after the command started (999.4ms of 1s), reads as the timeout.
func roundBound(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for d/unit >= 100 {
		unit *= 10
	}
	return d.Round(unit)
}

// giveUp picks the error that best explains why no server did the work;
// ctxErr is the command's own deadline or cancellation, if that ended it.
func (f *failures) giveUp(addrs []string, log *dialLog, ctxErr error) error {
	switch {
	case f.noLeader != nil:
		return f.noLeader
	case f.unavailable != nil:
		return f.unavailable
	case len(f.silent) > 0:
		return &noAnswerError{addrs: f.silent, within: f.within}
	case f.broken != nil:
		return &noAnswerError{addrs: []string{f.brokenAddr}, cause: f.broken}
	}
	last := f.unreached
	if last == nil {
		last = ctxErr
	}
	// The dial's own error reads better than gRPC's account of it.
	if _, err := log.outcome(f.unreachedAddr); err != nil && !isAttemptTimeout(f.unreached) {
		last = err
	}
	refused := true
	for _, addr := range addrs {
		if _, err := log.outcome(addr); !errors.Is(err, syscall.ECONNREFUSED) {
			refused = false
		}
	}
	return &unreachableError{addrs: addrs, last: last, refused: refused}
}

// isNoLeader reports a server's answer that the cluster has no leader to
// take a write right now.
func isNoLeader(err error) bool {
	st := status.Convert(err)
	return st.Code() == codes.Unavailable && strings.Contains(strings.ToLower(st.Message()), "leader")
}

// isCatchingUp reports a server's answer that it has not yet applied the
// log far enough to answer reads (cluster/readiness.go words it).
func isCatchingUp(err error) bool {
	st := status.Convert(err)
	msg := st.Message()
	return st.Code() == codes.Unavailable && (strings.Contains(msg, "replaying its log") || strings.Contains(msg, "catching up"))
}

// isAttemptTimeout reports a server that did not answer in time.
func isAttemptTimeout(err error) bool {
	return status.Code(err) == codes.DeadlineExceeded
}

// isTransport reports a failure to reach a server at all.
func isTransport(err error) bool {
	code := status.Code(err)
	return code == codes.Unavailable || code == codes.Canceled
}
