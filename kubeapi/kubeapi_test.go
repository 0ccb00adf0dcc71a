package kubeapi

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jobcluster/jobcluster/api"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		name string
		path string
		want apiPath
		ok   bool
	}{
		{"core group version", "/api/v1", apiPath{groupVersion: "v1"}, true},
		{"cluster-wide collection", "/api/v1/nodes", apiPath{groupVersion: "v1", plural: "nodes"}, true},
		{"namespaced item in a group", "/apis/batch/v1/namespaces/ns1/jobs/x", apiPath{groupVersion: "batch/v1", namespace: "ns1", plural: "jobs", name: "x"}, true},
		{"pod log subresource", "/api/v1/namespaces/default/pods/p/log", apiPath{groupVersion: "v1", namespace: "default", plural: "pods", name: "p", subresource: "log"}, true},
		{"all namespaces collection", "/apis/batch/v1/jobs", apiPath{groupVersion: "batch/v1", plural: "jobs"}, true},
		{"too deep", "/api/v1/pods/a/b/c", apiPath{}, false},
		{"outside the API", "/ui/", apiPath{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parsePath(tt.path)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parsePath(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestStatusFor(t *testing.T) {
	jobs := resource{group: "batch", plural: "jobs"}
	tests := []struct {
		name       string
		err        error
		wantCode   int32
		wantReason metav1.StatusReason
		wantMsg    string
	}{
		{"missing job", status.Error(codes.NotFound, "no job"), http.StatusNotFound, metav1.StatusReasonNotFound, `jobs.batch "x" not found`},
		{"name taken", status.Error(codes.AlreadyExists, "exists"), http.StatusConflict, metav1.StatusReasonAlreadyExists, `jobs.batch "x" already exists`},
		{"invalid spec", status.Error(codes.InvalidArgument, "spec.completions: must be >= 0"), http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "spec.completions: must be >= 0"},
		{"too old resource version", status.Error(codes.OutOfRange, "too old resource version"), http.StatusGone, metav1.StatusReasonExpired, "too old resource version"},
		{"denied", status.Error(codes.PermissionDenied, "permission denied"), http.StatusForbidden, metav1.StatusReasonForbidden, "permission denied"},
		{"plain error", errors.New("boom"), http.StatusInternalServerError, metav1.StatusReasonInternalError, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := statusFor(tt.err, jobs, "x")
			if st.Code != tt.wantCode || st.Reason != tt.wantReason || st.Message != tt.wantMsg {
				t.Errorf("got %d %s %q; want %d %s %q", st.Code, st.Reason, st.Message, tt.wantCode, tt.wantReason, tt.wantMsg)
			}
		})
	}
}

func TestInvalidCauses(t *testing.T) {
	k, _ := kindFor("batch/v1", "jobs")
	st := invalid(k, "x", "spec.completions: must be >= 0\nspec.parallelism: must be >= 0")
	if st.Code != http.StatusUnprocessableEntity || len(st.Details.Causes) != 2 {
		t.Fatalf("got %+v", st)
	}
	if c := st.Details.Causes[0]; c.Field != "spec.completions" || c.Message != "must be >= 0" {
		t.Errorf("first cause = %+v", c)
	}
}

func TestResourceList(t *testing.T) {
	tests := []struct {
		name         string
		groupVersion string
		want         []string
	}{
		{"batch", "batch/v1", []string{"jobs", "cronjobs"}},
		{"core", "v1", []string{"pods", "pods/log", "nodes", "events", "configmaps", "secrets"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := resourceList(tt.groupVersion)
			var got []string
			for _, r := range l.APIResources {
				got = append(got, r.Name)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
	if resourceList("apps/v1") != nil {
		t.Error("apps/v1 is not served")
	}
}

func TestBuildTableMarksWideColumns(t *testing.T) {
	f := func(kind string, objs []*api.Object, now time.Time, wide bool) ([]string, [][]string) {
		header := []string{"NAME", "AGE"}
		if wide {
			header = append(header, "NODE")
		}
		var rows [][]string
		for range objs {
			rows = append(rows, []string{"p", "1s", "n1"})
		}
		return header, rows
	}
	k, _ := kindFor("v1", "pods")
	tb := buildTable(f, k, []*api.Object{{}}, nil, metav1.ListMeta{ResourceVersion: "7"}, time.Now())
	if len(tb.ColumnDefinitions) != 3 || tb.ColumnDefinitions[2].Priority != 1 || tb.ColumnDefinitions[0].Priority != 0 {
		t.Errorf("columns = %+v", tb.ColumnDefinitions)
	}
	if tb.ColumnDefinitions[0].Format != "name" || tb.ResourceVersion != "7" || len(tb.Rows) != 1 {
		t.Errorf("table = %+v", tb)
	}
}

func TestColumnName(t *testing.T) {
	for in, want := range map[string]string{"LAST SCHEDULE": "Last Schedule", "NAME": "Name", "INTERNAL-IP": "Internal-ip"} {
		if got := columnName(in); got != want {
			t.Errorf("columnName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWantsTable(t *testing.T) {
	r, _ := http.NewRequest("GET", "/api/v1/pods", nil)
	r.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
	if !wantsTable(r) {
		t.Error("kubectl get's Accept should ask for a Table")
	}
	r.Header.Set("Accept", "application/json")
	if wantsTable(r) {
		t.Error("plain JSON is not a Table")
	}
}

func TestLogsRefusalsAreKubernetesStatuses(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode int
	}{
		{"no such pod", status.Error(codes.NotFound, "not found"), http.StatusNotFound},
		{"agent gone and nothing kept", status.Error(codes.FailedPrecondition, `agent a1 is gone, and the servers keep no log of pod "x"`), http.StatusBadRequest},
		{"no leader", status.Error(codes.Unavailable, "no leader elected yet"), http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, &fakeControl{logsErr: tt.err}, http.MethodGet, "/api/v1/namespaces/default/pods/x/log", "", "")
			if st := decodeStatus(t, w); w.Code != tt.wantCode || int(st.Code) != tt.wantCode {
				t.Errorf("code %d, status %+v; want %d", w.Code, st, tt.wantCode)
			}
		})
	}
}
