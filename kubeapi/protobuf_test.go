package kubeapi

import (
	"net/http"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// protobufBody encodes obj as client-go does: the prefix, then a
// runtime.Unknown holding the object's protobuf.
func protobufBody(t *testing.T, apiVersion, kind string, obj interface{ Marshal() ([]byte, error) }) string {
	t.Helper()
	raw, err := obj.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	u := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: apiVersion, Kind: kind}, Raw: raw, ContentType: mediaTypeProtobuf}
	b, err := u.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(protobufMagic) + string(b)
}

func TestCreateFromProtobuf(t *testing.T) {
	parallelism := int32(3)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{"team": "ml"}},
		Spec: batchv1.JobSpec{Parallelism: &parallelism, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c", "echo hi"}}},
		}}},
	}
	const jobs = "/apis/batch/v1/namespaces/default/jobs"
	tests := []struct {
		name     string
		body     string
		wantCode int
	}{
		{"a Job", protobufBody(t, "batch/v1", "Job", job), http.StatusCreated},
		{"a CronJob on the jobs endpoint", protobufBody(t, "batch/v1", "CronJob", &batchv1.CronJob{}), http.StatusBadRequest},
		{"no prefix", "\x0a\x03abc", http.StatusBadRequest},
		{"truncated", protobufBody(t, "batch/v1", "Job", job)[:30], http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeControl{}
			w := serve(t, f, http.MethodPost, jobs, mediaTypeProtobuf, tt.body)
			if w.Code != tt.wantCode {
				t.Fatalf("code %d: %s; want %d", w.Code, w.Body, tt.wantCode)
			}
			if tt.wantCode != http.StatusCreated {
				if len(f.submits) != 0 {
					t.Errorf("%d submits for a refused body", len(f.submits))
				}
				return
			}
			got := f.submits[0].GetObjects()[0].GetJob()
			c := got.GetSpec().GetTemplate().GetSpec().GetContainers()
			if got.GetMetadata().GetLabels()["team"] != "ml" || got.GetSpec().GetParallelism() != 3 || len(c) != 1 || c[0].GetCommand()[2] != "echo hi" {
				t.Errorf("submitted %v; want the Job as encoded", got)
			}
		})
	}
}
