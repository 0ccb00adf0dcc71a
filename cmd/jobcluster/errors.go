package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

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

// unreachableError says that no TCP connection could be made to any of
// the addresses.
type unreachableError struct {
	addrs []string
	last  error
	// refused is set when every address refused the connection: nothing
	// listens there.
	refused bool
}

// Error says which addresses were tried, why the last one failed, and what
// to do about it.
func (e *unreachableError) Error() string {
	hint := "check --addr / JOBCLUSTER_ADDR and that this machine can reach the servers"
	if e.refused {
		hint = `start one with "jobcluster dev" or point --addr / JOBCLUSTER_ADDR at a server`
	}
	return fmt.Sprintf("no jobcluster server reachable at %s (%s); %s",
		strings.Join(e.addrs, ","), transportCause(e.last), hint)
}

// Unwrap returns the last failure to reach a server.
func (e *unreachableError) Unwrap() error { return e.last }

// noAnswerError says that servers took a connection but gave no answer:
// busy or hung, or not speaking jobcluster's protocol.
type noAnswerError struct {
	addrs []string
	// within is the time each had to answer; zero when the connection
	// failed before that, for cause.
	within time.Duration
	cause  error
	// hint, when set, replaces the advice on --addr.
	hint string
}

// Error names the servers, how long they had or why they failed, and what
// to do about it.
func (e *noAnswerError) Error() string {
	who, pronoun := "server "+e.addrs[0], "it"
	if len(e.addrs) > 1 {
		who, pronoun = "servers "+strings.Join(e.addrs, ", "), "they"
	}
	if e.within > 0 {
		return fmt.Sprintf("%s did not answer within %s; %s may be overloaded: retry later, or ask another server with --addr", who, e.within, pronoun)
	}
	hint := "check that --addr names a jobcluster server's RPC address"
	if e.hint != "" {
		hint = e.hint
	}
	return fmt.Sprintf("%s accepted a connection but did not answer (%s); %s", who, transportCause(e.cause), hint)
}

// Unwrap returns why the connection failed, if it did.
func (e *noAnswerError) Unwrap() error { return e.cause }

// outOfReach reports an error that says no server could be asked, as
// opposed to a server's answer.
func outOfReach(err error) bool {
	var unreachable *unreachableError
	var noAnswer *noAnswerError
	return errors.As(err, &unreachable) || errors.As(err, &noAnswer)
}

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
	if len(msg) >= 2 && strings.HasPrefix(msg, `"`) && strings.HasSuffix(msg, `"`) {
		msg = msg[1 : len(msg)-1] // gRPC quotes a dial error's text
	}
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
		if mh, ok := e.(*mayHaveAppliedError); ok {
			lines = append(lines, errorText(mh.err), mayHaveAppliedNote)
			continue
		}
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
