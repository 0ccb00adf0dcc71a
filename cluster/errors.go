package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
)

// ErrNoLeader means no leader is known yet; the caller may retry.
var ErrNoLeader = errors.New("no leader elected yet")

// ErrNotLeader means this server lost leadership during the request.
var ErrNotLeader = errors.New("not the leader")

// notFound is the NotFound status of a missing object of kind r.
func notFound(r *api.Resource, name string) error {
	return status.Error(codes.NotFound, r.NotFound(name))
}

// toStatus maps errors to gRPC status codes: the one place where our errors
// meet the wire.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, fsm.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, fsm.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, fsm.ErrConflict):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, raft.ErrLeadershipLost):
		// The entry may still be committed by the next leader.
		return status.Errorf(codes.Unavailable, "outcome unknown: %v; the cluster is electing a leader, check before you retry", err)
	case errors.Is(err, ErrNoLeader), errors.Is(err, ErrNotLeader), errors.Is(err, raft.ErrNotLeader),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return status.Errorf(codes.Unavailable, "%v; the cluster is electing a leader, retry in a moment", err)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	var fe *api.FieldError
	if errors.As(err, &fe) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// invalidObject formats validation errors as kubectl does.
func invalidObject(kind, name string, err error) error {
	return status.Error(codes.InvalidArgument, fmt.Sprintf("The %s %q is invalid: %v", kind, name, err))
}
