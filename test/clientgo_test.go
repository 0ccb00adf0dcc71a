package test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// clientGoJob is a one-pod Job that sleeps for sleep seconds.
func clientGoJob(name string, sleep int) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"suite": "client-go"}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "main", Image: "busybox", Command: []string{"sleep", fmt.Sprint(sleep)},
			}},
		}}},
	}
}

// jobEvents records what an informer's handler saw, per Job name.
type jobEvents struct {
	mu      sync.Mutex
	adds    map[string]int
	deletes map[string]int
	updates int
}

func (e *jobEvents) counts() (adds, deletes map[string]int, updates int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	adds, deletes = map[string]int{}, map[string]int{}
	for k, v := range e.adds {
		adds[k] = v
	}
	for k, v := range e.deletes {
		deletes[k] = v
	}
	return adds, deletes, e.updates
}

// TestClientGoTypedClientAndInformer drives a follower of a three-server
// cluster with client-go itself: the typed BatchV1 client creates, gets,
// lists, patches and deletes a Job, and a shared informer sees every one
// of 20 Jobs created and deleted around a leader kill, each once.
func TestClientGoTypedClientAndInformer(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 1, HTTP: true})
	leader := c.WaitForLeader()
	follower := c.Servers[0]
	if follower == leader {
		follower = c.Servers[1]
	}
	// Bodies in Kubernetes' protobuf, as kubectl's typed clients send them.
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: "http://" + follower.HTTPAddr, ContentConfig: rest.ContentConfig{ContentType: "application/vnd.kubernetes.protobuf"}, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jobs := cs.BatchV1().Jobs("default")

	// It runs until deleted, so that once its pod is reported ready no
	// controller writes its status between the patch and the updates
	// below: a status write is a new resourceVersion, and a conflict.
	created, err := jobs.Create(ctx, clientGoJob("typed", 3600), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" {
		t.Errorf("created Job has uid %q and resourceVersion %q, want both", created.UID, created.ResourceVersion)
	}
	if _, err := jobs.Create(ctx, clientGoJob("typed", 1), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}
	wait.Within(t, 30*time.Second, "the typed Job to read back from the follower with its pod ready", func() (bool, string) {
		got, err := jobs.Get(ctx, "typed", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return got.UID == created.UID && got.Status.Ready != nil && *got.Status.Ready == 1, fmt.Sprintf("status %+v", got.Status)
	})
	list, err := jobs.List(ctx, metav1.ListOptions{LabelSelector: "suite=client-go"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "typed" {
		t.Fatalf("list: %v, %v; want the typed Job", list, err)
	}
	patched, err := jobs.Patch(ctx, "typed", types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"ml"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Labels["team"] != "ml" || patched.Labels["suite"] != "client-go" {
		t.Fatalf("patch: %v, labels %v; want team=ml added", err, patched.GetLabels())
	}
	// Update is a PUT of the whole object, its resourceVersion the
	// precondition: the second one, from the stale copy, is a conflict.
	changed := patched.DeepCopy()
	changed.Annotations = map[string]string{"owner": "ana"}
	updated, err := jobs.Update(ctx, changed, metav1.UpdateOptions{})
	if err != nil || updated.Annotations["owner"] != "ana" || updated.Labels["team"] != "ml" || updated.ResourceVersion == patched.ResourceVersion {
		t.Fatalf("update: %v, annotations %v, labels %v; want owner=ana added and a new resourceVersion", err, updated.GetAnnotations(), updated.GetLabels())
	}
	if _, err := jobs.Update(ctx, changed, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update from a stale copy: %v, want Conflict", err)
	}
	if err := jobs.Delete(ctx, "typed", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wait.Within(t, 30*time.Second, "the deleted Job to be gone", func() (bool, string) {
		_, err := jobs.Get(ctx, "typed", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})

	// The informer: list, then watch from the list's resourceVersion.
	seen := &jobEvents{adds: map[string]int{}, deletes: map[string]int{}}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
	inf := factory.Batch().V1().Jobs().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			j := obj.(*batchv1.Job)
			seen.mu.Lock()
			seen.adds[j.Name]++
			seen.mu.Unlock()
		},
		UpdateFunc: func(_, _ any) {
			seen.mu.Lock()
			seen.updates++
			seen.mu.Unlock()
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			j := obj.(*batchv1.Job)
			seen.mu.Lock()
			seen.deletes[j.Name]++
			seen.mu.Unlock()
		},
	}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	defer func() {
		// The informers stop with ctx; Shutdown waits for them.
		cancel()
		factory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("the informer's cache never synced")
	}

	var names []string
	for i := range 20 {
		name := fmt.Sprintf("inf-%02d", i)
		names = append(names, name)
		if i == 10 {
			c.Kill(leader)
		}
		wait.Within(t, 30*time.Second, "create "+name, func() (bool, string) {
			_, err := jobs.Create(ctx, clientGoJob(name, 0), metav1.CreateOptions{})
			return err == nil || apierrors.IsAlreadyExists(err), fmt.Sprint(err)
		})
	}
	wait.Within(t, 60*time.Second, "the informer to see every Job added", func() (bool, string) {
		adds, _, _ := seen.counts()
		var missing []string
		for _, n := range names {
			if adds[n] == 0 {
				missing = append(missing, n)
			}
		}
		return len(missing) == 0, "missing " + strings.Join(missing, " ")
	})
	for _, n := range names {
		wait.Within(t, 30*time.Second, "delete "+n, func() (bool, string) {
			err := jobs.Delete(ctx, n, metav1.DeleteOptions{})
			return err == nil || apierrors.IsNotFound(err), fmt.Sprint(err)
		})
	}
	wait.Within(t, 60*time.Second, "the informer to see every Job deleted", func() (bool, string) {
		_, deletes, _ := seen.counts()
		return len(deletes) == len(names), fmt.Sprint(len(deletes), " deleted")
	})
	adds, deletes, updates := seen.counts()
	var twice []string
	for _, n := range names {
		if adds[n] != 1 || deletes[n] != 1 {
			twice = append(twice, fmt.Sprintf("%s added %d deleted %d", n, adds[n], deletes[n]))
		}
	}
	sort.Strings(twice)
	if len(twice) > 0 {
		t.Errorf("the informer saw Jobs more or less than once: %s", strings.Join(twice, "; "))
	}
	if updates == 0 {
		t.Error("the informer saw no update: the Jobs' pods ran and finished, so their status changed")
	}
	if len(inf.GetStore().List()) != 0 {
		t.Errorf("the informer's cache still holds %d Jobs", len(inf.GetStore().List()))
	}
}
