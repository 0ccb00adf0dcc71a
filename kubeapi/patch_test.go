package kubeapi

import (
	"encoding/json"
	"net/http"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPatchLabelsKeepsTheRestAndSendsThePrecondition(t *testing.T) {
	f := &fakeControl{job: storedJob()}
	w := serve(t, f, http.MethodPatch, jobPath, "application/merge-patch+json", `{"metadata":{"labels":{"a":"b","keep":null}}}`)
	if w.Code != http.StatusOK {
		t.Fatalf("code %d: %s", w.Code, w.Body)
	}
	if len(f.submits) != 1 || !f.submits[0].GetApply() {
		t.Fatalf("submits = %v; want one apply", f.submits)
	}
	meta := f.submits[0].GetObjects()[0].GetJob().GetMetadata()
	if meta.GetResourceVersion() != "7" || meta.GetLabels()["a"] != "b" || meta.GetLabels()["keep"] != "" {
		t.Errorf("submitted metadata %+v; want resourceVersion 7, a=b and keep removed", meta)
	}
}

func TestPatchRetriesAfterAConcurrentWrite(t *testing.T) {
	f := &fakeControl{job: storedJob(), conflicts: 2}
	w := serve(t, f, http.MethodPatch, jobPath, "application/strategic-merge-patch+json", `{"metadata":{"annotations":{"k":"v"}}}`)
	if w.Code != http.StatusOK || len(f.submits) != 3 {
		t.Fatalf("code %d after %d submits: %s; want 200 after 3", w.Code, len(f.submits), w.Body)
	}
}

func TestPatchWithTheClientsResourceVersionIsNotRetried(t *testing.T) {
	f := &fakeControl{job: storedJob(), conflicts: 1}
	w := serve(t, f, http.MethodPatch, jobPath, "application/merge-patch+json", `{"metadata":{"resourceVersion":"3","labels":{"a":"b"}}}`)
	if st := decodeStatus(t, w); w.Code != http.StatusConflict || st.Reason != metav1.StatusReasonConflict || len(f.submits) != 1 {
		t.Fatalf("code %d, status %+v after %d submits; want one 409 Conflict", w.Code, st, len(f.submits))
	}
}

func TestPatchRefusals(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		wantCode    int
	}{
		{"renaming", "application/merge-patch+json", `{"metadata":{"name":"y"}}`, http.StatusUnprocessableEntity},
		{"strategic list element without its merge key", "application/strategic-merge-patch+json", `{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}`, http.StatusUnprocessableEntity},
		{"unknown strategic directive", "application/strategic-merge-patch+json", `{"spec":{"$nope":1}}`, http.StatusUnprocessableEntity},
		{"unknown patch type", "text/plain", `{}`, http.StatusUnsupportedMediaType},
		{"server-side apply renaming", "application/apply-patch+yaml", "metadata:\n  name: y\n", http.StatusUnprocessableEntity},
		{"json patch on a missing path", "application/json-patch+json", `[{"op":"replace","path":"/spec/nope","value":1}]`, http.StatusUnprocessableEntity},
		{"malformed", "application/merge-patch+json", `{`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeControl{job: storedJob()}
			w := serve(t, f, http.MethodPatch, jobPath, tt.contentType, tt.body)
			if w.Code != tt.wantCode || len(f.submits) != 0 {
				t.Errorf("code %d after %d submits: %s; want %d and none", w.Code, len(f.submits), w.Body, tt.wantCode)
			}
		})
	}
}

func TestPatchMissingJobIsNotFound(t *testing.T) {
	w := serve(t, &fakeControl{}, http.MethodPatch, jobPath, "application/merge-patch+json", `{}`)
	if st := decodeStatus(t, w); w.Code != http.StatusNotFound || st.Message != `jobs.batch "x" not found` {
		t.Errorf("code %d, status %+v", w.Code, st)
	}
}

func TestMergePatch(t *testing.T) {
	var target, patch any
	_ = json.Unmarshal([]byte(`{"a":{"b":1,"c":[1,2]},"d":"x"}`), &target)
	_ = json.Unmarshal([]byte(`{"a":{"b":null,"c":[3]},"e":{"f":true}}`), &patch)
	got, _ := json.Marshal(mergePatch(target, patch))
	if want := `{"a":{"c":[3]},"d":"x","e":{"f":true}}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestJSONPatch(t *testing.T) {
	var doc any
	_ = json.Unmarshal([]byte(`{"a":{"b":1},"l":[1,2],"s~/x":0}`), &doc)
	var ops []jsonPatchOp
	_ = json.Unmarshal([]byte(`[
		{"op":"test","path":"/a/b","value":1},
		{"op":"replace","path":"/a/b","value":2},
		{"op":"add","path":"/l/-","value":3},
		{"op":"add","path":"/l/0","value":0},
		{"op":"remove","path":"/l/1"},
		{"op":"copy","from":"/a","path":"/c"},
		{"op":"move","from":"/s~0~1x","path":"/m"}
	]`), &ops)
	out, err := jsonPatch(doc, ops)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(out)
	if want := `{"a":{"b":2},"c":{"b":2},"l":[0,2,3],"m":0}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestServerSideApplyMergesIntoTheStoredJob(t *testing.T) {
	f := &fakeControl{job: storedJob()}
	w := serve(t, f, http.MethodPatch, jobPath+"?fieldManager=kubectl", "application/apply-patch+yaml",
		"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\n  labels:\n    team: a\n")
	if w.Code != http.StatusOK || len(f.submits) != 1 || !f.submits[0].GetApply() {
		t.Fatalf("code %d after %d submits: %s; want 200 after one apply", w.Code, len(f.submits), w.Body)
	}
	job := f.submits[0].GetObjects()[0].GetJob()
	if job.GetMetadata().GetLabels()["team"] != "a" || len(job.GetSpec().GetTemplate().GetSpec().GetContainers()) != 1 {
		t.Errorf("submitted %v; want the label added and the containers kept", job)
	}
}

func TestServerSideApplyCreatesAMissingJob(t *testing.T) {
	f := &fakeControl{}
	w := serve(t, f, http.MethodPatch, jobPath, "application/apply-patch+yaml",
		"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        command: [\"true\"]\n")
	if w.Code != http.StatusCreated || len(f.submits) != 1 || f.submits[0].GetApply() {
		t.Fatalf("code %d after %d submits: %s; want 201 after one create", w.Code, len(f.submits), w.Body)
	}
	w = serve(t, f, http.MethodPatch, jobPath, "application/apply-patch+yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: other\n")
	if w.Code != http.StatusBadRequest || len(f.submits) != 1 {
		t.Errorf("code %d after %d submits: %s; want 400 for a name that is not the URL's", w.Code, len(f.submits), w.Body)
	}
}

func TestPutReplacesTheJob(t *testing.T) {
	f := &fakeControl{job: storedJob()}
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": "x", "resourceVersion": "7", "labels": map[string]any{"only": "this"}},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"restartPolicy": "Never", "containers": []any{map[string]any{"name": "main", "command": []any{"true"}}}}}},
	})
	w := serve(t, f, http.MethodPut, jobPath, "application/json", string(b))
	if w.Code != http.StatusOK || len(f.submits) != 1 {
		t.Fatalf("code %d after %d submits: %s; want 200 after one", w.Code, len(f.submits), w.Body)
	}
	meta := f.submits[0].GetObjects()[0].GetJob().GetMetadata()
	if meta.GetResourceVersion() != "7" || len(meta.GetLabels()) != 1 || meta.GetLabels()["only"] != "this" {
		t.Errorf("submitted metadata %+v; want the body's labels only, with resourceVersion 7 as precondition", meta)
	}
	w = serve(t, f, http.MethodPut, jobPath, "application/json", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"y"}}`)
	if w.Code != http.StatusUnprocessableEntity || len(f.submits) != 1 {
		t.Errorf("code %d after %d submits: %s; want 422 for a rename", w.Code, len(f.submits), w.Body)
	}
}

func TestDryRunWritesAreRefusedNotWritten(t *testing.T) {
	for _, method := range []string{http.MethodPatch, http.MethodPut} {
		f := &fakeControl{job: storedJob()}
		w := serve(t, f, method, jobPath+"?dryRun=All", "application/merge-patch+json", `{"metadata":{"labels":{"a":"b"}}}`)
		if w.Code != http.StatusBadRequest || len(f.submits) != 0 {
			t.Errorf("%s: code %d after %d submits; want 400 and nothing written", method, w.Code, len(f.submits))
		}
	}
}
