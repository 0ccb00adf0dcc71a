package kubeapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// resource names a Kubernetes resource for error messages: jobs.batch.
type resource struct {
	group, plural string
}

func (r resource) String() string {
	if r.group == "" {
		return r.plural
	}
	return r.plural + "." + r.group
}

// statusFor maps an error from the gRPC service to the metav1.Status
// Kubernetes would answer for the same situation on res/name.
func statusFor(err error, res resource, name string) *metav1.Status {
	st := &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Details:  &metav1.StatusDetails{Name: name, Group: res.group, Kind: res.plural},
	}
	s, _ := status.FromError(err)
	switch s.Code() {
	case codes.NotFound:
		st.Code, st.Reason = http.StatusNotFound, metav1.StatusReasonNotFound
		st.Message = fmt.Sprintf("%s %q not found", res, name)
	case codes.AlreadyExists:
		st.Code, st.Reason = http.StatusConflict, metav1.StatusReasonAlreadyExists
		st.Message = fmt.Sprintf("%s %q already exists", res, name)
	case codes.Aborted, codes.FailedPrecondition:
		st.Code, st.Reason = http.StatusConflict, metav1.StatusReasonConflict
		st.Message = fmt.Sprintf("Operation cannot be fulfilled on %s %q: %s", res, name, s.Message())
	case codes.InvalidArgument:
		st.Code, st.Reason = http.StatusUnprocessableEntity, metav1.StatusReasonInvalid
		st.Message = s.Message()
	case codes.Unauthenticated:
		st.Code, st.Reason = http.StatusUnauthorized, metav1.StatusReasonUnauthorized
		st.Message = s.Message()
	case codes.PermissionDenied:
		st.Code, st.Reason = http.StatusForbidden, metav1.StatusReasonForbidden
		st.Message = s.Message()
	case codes.OutOfRange:
		st.Code, st.Reason = http.StatusGone, metav1.StatusReasonExpired
		st.Message = s.Message()
	case codes.Unavailable:
		st.Code, st.Reason = http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable
		st.Message = s.Message()
	case codes.DeadlineExceeded:
		st.Code, st.Reason = http.StatusGatewayTimeout, metav1.StatusReasonTimeout
		st.Message = s.Message()
	default:
		st.Code, st.Reason = http.StatusInternalServerError, metav1.StatusReasonInternalError
		st.Message = s.Message()
	}
	return st
}

// writeStatus answers with st as JSON and its code.
func writeStatus(w http.ResponseWriter, st *metav1.Status) {
	writeJSON(w, int(st.Code), st)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
