package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	restwatch "k8s.io/client-go/rest/watch"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// typedClient speaks to the API as client-go's typed clients do on the
// wire: JSON bodies, Kubernetes' own types decoded by the scheme, errors
// as *apierrors.StatusError, and watches through the same stream decoder
// and StreamWatcher as rest.Request.Watch, but decoding strictly, so a
// field Kubernetes' types do not have fails the test (client-go itself
// ignores unknown fields; TestClientGoTypedClientAndInformer uses it).
type typedClient struct {
	base  string
	codec *kjson.Serializer
}

func newTypedClient(httpAddr string) *typedClient {
	return &typedClient{base: "http://" + httpAddr,
		codec: kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, kjson.SerializerOptions{Strict: true})}
}

// do sends a request and decodes the answer into into, or returns the
// Status error the server answered.
func (c *typedClient) do(method, path, contentType string, body runtime.Object, into runtime.Object) error {
	var buf bytes.Buffer
	if body != nil {
		if err := c.codec.Encode(body, &buf); err != nil {
			return err
		}
	}
	return c.doRaw(method, path, contentType, buf.Bytes(), into)
}

// doRaw is do with a body already encoded, such as a patch.
func (c *typedClient) doRaw(method, path, contentType string, body []byte, into runtime.Object) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		st := &metav1.Status{}
		if _, _, err := c.codec.Decode(data, nil, st); err != nil {
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
		return apierrors.FromObject(st)
	}
	if into == nil {
		return nil
	}
	_, _, err = c.codec.Decode(data, nil, into)
	return err
}

// watch opens a watch as rest.Request.Watch does.
func (c *typedClient) watch(ctx context.Context, path string) (watch.Interface, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("watch %s: %d %s", path, resp.StatusCode, data)
	}
	frames := kjson.Framer.NewFrameReader(resp.Body)
	events := streaming.NewDecoder(frames, kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, kjson.SerializerOptions{}))
	return watch.NewStreamWatcher(restwatch.NewDecoder(events, c.codec), apierrors.NewClientErrorReporter(http.StatusInternalServerError, "GET", "ClientWatchDecoding")), nil
}

// TestClientGoTypedJobs creates, reads, lists, patches, watches and deletes
// a Job with Kubernetes' own types against a follower.
func TestClientGoTypedJobs(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 1, HTTP: true})
	kc := newTypedClient(c.Servers[1].HTTPAddr)
	const jobs = "/apis/batch/v1/namespaces/default/jobs"

	list := &batchv1.JobList{}
	if err := kc.do(http.MethodGet, jobs, "", nil, list); err != nil || len(list.Items) != 0 || list.ResourceVersion == "" {
		t.Fatalf("list: %v, %d items, resourceVersion %q; want none and a version", err, len(list.Items), list.ResourceVersion)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := kc.watch(ctx, jobs+"?watch=true&resourceVersion="+list.ResourceVersion)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: "typed"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c", "echo typed"}}},
		}}},
	}
	created := &batchv1.Job{}
	if err := kc.do(http.MethodPost, jobs, "application/json", job, created); err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.Namespace != "default" {
		t.Errorf("created %+v; want a uid, a resourceVersion and namespace default", created.ObjectMeta)
	}
	err = kc.do(http.MethodPost, jobs, "application/json", job, nil)
	if !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v; want AlreadyExists", err)
	}

	got := &batchv1.Job{}
	wait.For(t, "get the Job from the follower", func() (bool, string) {
		err := kc.do(http.MethodGet, jobs+"/typed", "", nil, got)
		return err == nil && got.UID == created.UID, fmt.Sprint(err)
	})
	wait.For(t, "the Job completes", func() (bool, string) {
		err := kc.do(http.MethodGet, jobs+"/typed", "", nil, got)
		for _, cond := range got.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%v %+v", err, got.Status)
	})
	pods := &corev1.PodList{}
	sel := url.QueryEscape("job-name=typed")
	if err := kc.do(http.MethodGet, "/api/v1/namespaces/default/pods?labelSelector="+sel, "", nil, pods); err != nil || len(pods.Items) != 1 || pods.Items[0].Status.Phase != corev1.PodSucceeded {
		t.Errorf("pods of the Job: %v %+v; want one Succeeded", err, pods.Items)
	}
	events := &corev1.EventList{}
	if err := kc.do(http.MethodGet, "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dtyped", "", nil, events); err != nil || len(events.Items) == 0 {
		t.Errorf("events of the Job: %v %+v; want some", err, events.Items)
	}

	patched := &batchv1.Job{}
	if err := kc.doRaw(http.MethodPatch, jobs+"/typed", "application/merge-patch+json", []byte(`{"metadata":{"labels":{"team":"ml"}}}`), patched); err != nil || patched.Labels["team"] != "ml" {
		t.Errorf("patch: %v, labels %v", err, patched.Labels)
	}

	del := &metav1.DeleteOptions{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "DeleteOptions"}}
	background := metav1.DeletePropagationBackground
	del.PropagationPolicy = &background
	if err := kc.do(http.MethodDelete, jobs+"/typed", "application/json", del, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := kc.do(http.MethodDelete, jobs+"/typed", "application/json", del, nil); !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `jobs.batch "typed" not found`) {
		t.Errorf("second delete: %v; want NotFound", err)
	}

	var seen []string
	deadline := time.After(wait.Default)
	for !strings.HasSuffix(strings.Join(seen, ","), "DELETED typed") {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch ended after %v", seen)
			}
			j, isJob := ev.Object.(*batchv1.Job)
			if !isJob {
				t.Fatalf("watch event %s of %T: %+v", ev.Type, ev.Object, ev.Object)
			}
			if j.ResourceVersion == "" {
				t.Errorf("%s event without a resourceVersion", ev.Type)
			}
			if len(seen) == 0 || !strings.HasPrefix(seen[len(seen)-1], string(ev.Type)+" ") {
				seen = append(seen, string(ev.Type)+" "+j.Name)
			}
		case <-deadline:
			t.Fatalf("timed out waiting for DELETED; saw %v", seen)
		}
	}
	if len(seen) < 2 || seen[0] != "ADDED typed" {
		t.Errorf("watch saw %v; want ADDED first, then DELETED last", seen)
	}
}
