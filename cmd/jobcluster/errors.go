package main

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// serverError is a refusal a server answered with. Its text is the whole
// line kubectl prints for an API error, so it is printed without the
// "error: " prefix (see errorText).
type serverError struct {
	// reason is the Kubernetes status reason ("NotFound"), empty if unknown.
	reason  string
	message string
}

// Error returns the line kubectl prints for the refusal.
func (e *serverError) Error() string {
	switch {
	case e.reason == "Invalid" && strings.HasPrefix(e.message, "The "):
		// Already kubectl's own wording: `The Job "x" is invalid: ...`.
		return e.message
	case e.reason == "Unauthorized":
		return fmt.Sprintf("error: You must be logged in to the server (%s)", e.message)
	case e.reason != "":
		return fmt.Sprintf("Error from server (%s): %s", e.reason, e.message)
	default:
		return "Error from server: " + e.message
	}
}

// codeReasons maps gRPC status codes to the Kubernetes status reasons kubectl
// shows for the equivalent HTTP answers.
var codeReasons = map[codes.Code]string{
	codes.NotFound:           "NotFound",
	codes.AlreadyExists:      "AlreadyExists",
	codes.InvalidArgument:    "Invalid",
	codes.FailedPrecondition: "BadRequest",
	codes.OutOfRange:         "BadRequest",
	codes.Aborted:            "Conflict",
	codes.Unavailable:        "ServiceUnavailable",
	codes.DeadlineExceeded:   "Timeout",
	codes.PermissionDenied:   "Forbidden",
	codes.Unauthenticated:    "Unauthorized",
	codes.ResourceExhausted:  "TooManyRequests",
	codes.Unimplemented:      "MethodNotAllowed",
	codes.Internal:           "InternalError",
	codes.Unknown:            "InternalError",
	codes.DataLoss:           "InternalError",
}

// statusError converts the error status of an answered call.
func statusError(err error) *serverError {
	st := status.Convert(err)
	return &serverError{reason: codeReasons[st.Code()], message: st.Message()}
}

// resultError converts the per-object refusal in a SubmitResult. code is
// the gRPC code name ("AlreadyExists"); a Kubernetes reason ("Invalid") is
// accepted as well.
func resultError(code, message string) *serverError {
	for c, reason := range codeReasons {
		if c.String() == code {
			return &serverError{reason: reason, message: message}
		}
	}
	return &serverError{reason: code, message: message}
}

// unreachableError says that no server answered at any address.
type unreachableError struct {
	addrs []string
	last  error
}

// Error says which addresses were tried, why the last one failed, and what
// to do about it.
func (e *unreachableError) Error() string {
	return fmt.Sprintf("no jobcluster server reachable at %s (%s); start one with \"jobcluster dev\" or point --addr / JOBCLUSTER_ADDR at a server",
		strings.Join(e.addrs, ","), transportCause(e.last))
}

// Unwrap returns the last failure to reach a server.
func (e *unreachableError) Unwrap() error { return e.last }

// transportCause shortens gRPC's description of a failed connection to its
// cause: `connection error: desc = "transport: Error while dialing: dial
// tcp 127.0.0.1:7400: connect: connection refused"` becomes `dial tcp
// 127.0.0.1:7400: connect: connection refused`.
func transportCause(err error) string {
	if err == nil {
		return "no address given"
	}
	msg := err.Error()
	if st, ok := status.FromError(err); ok {
		msg = st.Message()
	}
	msg = strings.TrimPrefix(msg, "connection error: desc = ")
	msg = strings.Trim(msg, `"`)
	if _, cause, ok := strings.Cut(msg, "Error while dialing: "); ok {
		msg = cause
	}
	return strings.TrimPrefix(msg, "transport: ")
}

// errorText renders an error returned by a command the way kubectl prints
// it on stderr: server refusals as their own lines ("Error from server
// (NotFound): ..."), anything else prefixed with "error: ". A joined error
// gives one line per error.
func errorText(err error) string {
	var lines []string
	for _, e := range flattenErrors(err) {
		var se *serverError
		if errors.As(e, &se) {
			lines = append(lines, se.Error())
			continue
		}
		lines = append(lines, "error: "+e.Error())
	}
	return strings.Join(lines, "\n")
}

// flattenErrors expands errors made by errors.Join into their parts.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, flattenErrors(e)...)
	}
	return out
}
