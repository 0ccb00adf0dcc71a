package main

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestStatusErrorWording(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "missing job", err: status.Error(codes.NotFound, `jobs.batch "x" not found`),
			want: `Error from server (NotFound): jobs.batch "x" not found`},
		{name: "name taken", err: status.Error(codes.AlreadyExists, `cronjobs.batch "hello" already exists`),
			want: `Error from server (AlreadyExists): cronjobs.batch "hello" already exists`},
		{name: "invalid update in kubectl's own words", err: status.Error(codes.InvalidArgument, `The Job "pi" is invalid: spec.completions: Invalid value: 3: field is immutable`),
			want: `The Job "pi" is invalid: spec.completions: Invalid value: 3: field is immutable`},
		{name: "invalid argument without subject", err: status.Error(codes.InvalidArgument, `spec.completions: Invalid value: -1: must be greater than or equal to 0`),
			want: `Error from server (Invalid): spec.completions: Invalid value: -1: must be greater than or equal to 0`},
		{name: "no leader", err: status.Error(codes.Unavailable, "no leader"),
			want: `Error from server (ServiceUnavailable): no leader`},
		{name: "internal failure", err: status.Error(codes.Internal, "raft apply: log closed"),
			want: `Error from server (InternalError): raft apply: log closed`},
		{name: "code without a Kubernetes reason", err: status.Error(codes.Canceled, "canceled by server"),
			want: `Error from server: canceled by server`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := statusError(tc.err).Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestResultErrorWording(t *testing.T) {
	tests := []struct {
		name, code, message, want string
	}{
		{name: "gRPC code name", code: "AlreadyExists", message: `jobs.batch "pi" already exists`,
			want: `Error from server (AlreadyExists): jobs.batch "pi" already exists`},
		{name: "gRPC invalid argument", code: "InvalidArgument", message: `spec.parallelism: Invalid value: -1: must be greater than or equal to 0`,
			want: `Error from server (Invalid): spec.parallelism: Invalid value: -1: must be greater than or equal to 0`},
		{name: "Kubernetes reason", code: "Invalid", message: `spec.completions: Invalid value: 3: field is immutable`,
			want: `Error from server (Invalid): spec.completions: Invalid value: 3: field is immutable`},
		{name: "no code", code: "", message: "something broke",
			want: `Error from server: something broke`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := resultError(tc.code, tc.message).Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	notFound := statusError(status.Error(codes.NotFound, `jobs.batch "a" not found`))
	exists := resultError("AlreadyExists", `jobs.batch "b" already exists`)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "server error printed as is", err: notFound,
			want: `Error from server (NotFound): jobs.batch "a" not found`},
		{name: "client error gets error prefix", err: errors.New(`the path "x.yaml" does not exist`),
			want: `error: the path "x.yaml" does not exist`},
		{name: "wrapped server error", err: fmt.Errorf("get job a: %w", notFound),
			want: `Error from server (NotFound): jobs.batch "a" not found`},
		{name: "several refusals one per line", err: errors.Join(notFound, exists, errors.New("job.batch/c failed")),
			want: "Error from server (NotFound): jobs.batch \"a\" not found\n" +
				"Error from server (AlreadyExists): jobs.batch \"b\" already exists\n" +
				"error: job.batch/c failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorText(tc.err); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestTransportCause(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "refused dial", err: status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:7400: connect: connection refused"`),
			want: "dial tcp 127.0.0.1:7400: connect: connection refused"},
		{name: "attempt timeout", err: status.Error(codes.DeadlineExceeded, "127.0.0.1:7400: no answer within 3s"),
			want: "127.0.0.1:7400: no answer within 3s"},
		{name: "plain error", err: errors.New("context deadline exceeded"), want: "context deadline exceeded"},
		{name: "a message ending in a quoted name keeps its quote", err: status.Error(codes.Unavailable, `agent a1 is gone, and the servers keep no log of pod "x"`),
			want: `agent a1 is gone, and the servers keep no log of pod "x"`},
		{name: "no error", err: nil, want: "no address given"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := transportCause(tc.err); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
