package kubeapi

import (
	"net/http"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDelete(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		body        string
		wantCode    int
		wantReason  metav1.StatusReason
		wantDeletes int
	}{
		{"background", jobPath, `{"propagationPolicy":"Background"}`, http.StatusOK, "", 1},
		{"foreground", jobPath, `{"propagationPolicy":"Foreground"}`, http.StatusOK, "", 1},
		{"orphan would keep the pods", jobPath, `{"propagationPolicy":"Orphan"}`, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, 0},
		{"dry run", jobPath + "?dryRun=All", ``, http.StatusOK, "", 0},
		{"stale resourceVersion", jobPath, `{"preconditions":{"resourceVersion":"3"}}`, http.StatusConflict, metav1.StatusReasonConflict, 0},
		{"missing", "/apis/batch/v1/namespaces/default/jobs/nope", ``, http.StatusNotFound, metav1.StatusReasonNotFound, 0},
		{"events are not deleted", "/api/v1/namespaces/default/events/e", ``, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeControl{job: storedJob()}
			w := serve(t, f, http.MethodDelete, tt.path, "application/json", tt.body)
			st := decodeStatus(t, w)
			if w.Code != tt.wantCode || st.Reason != tt.wantReason || len(f.deleted) != tt.wantDeletes {
				t.Errorf("code %d reason %q after %d deletes: %s; want %d %q after %d", w.Code, st.Reason, len(f.deleted), w.Body, tt.wantCode, tt.wantReason, tt.wantDeletes)
			}
		})
	}
}

func TestDeleteWithCurrentResourceVersionDeletesThatUID(t *testing.T) {
	f := &fakeControl{job: storedJob()}
	w := serve(t, f, http.MethodDelete, jobPath, "application/json", `{"preconditions":{"resourceVersion":"7"}}`)
	if w.Code != http.StatusOK || len(f.deleted) != 1 || f.deleted[0].GetUid() != "u1" {
		t.Fatalf("code %d, deletes %v: %s; want one delete of uid u1", w.Code, f.deleted, w.Body)
	}
}
