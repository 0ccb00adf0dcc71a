package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// runKubeAPI measures the Kubernetes API as its clients use it, through a
// follower: the real kubectl's `create -f` -> the pod's process started,
// and a client-go shared informer watching -watched-jobs Jobs: a label
// patch sent -> the informer's update event for it.
func runKubeAPI(ctx context.Context, e *env) error {
	if e.cfg.secure {
		return errors.New("the kubeapi scenario runs without -secure")
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return errors.New("the kubeapi scenario needs kubectl on PATH")
	}
	leader, err := e.c.waitLeader(ctx)
	if err != nil {
		return err
	}
	follower := e.c.servers[0]
	if follower == leader {
		follower = e.c.servers[1]
	}
	server := "http://" + follower.httpAddr
	kubeconfig := filepath.Join(e.c.dir, "kubeconfig")
	cfg, err := exec.CommandContext(ctx, e.c.bin, "kubeconfig", "--server", server).Output()
	if err != nil {
		return fmt.Errorf("jobcluster kubeconfig: %w", err)
	}
	if err := os.WriteFile(kubeconfig, cfg, 0o600); err != nil {
		return err
	}

	dir, err := e.stampDir()
	if err != nil {
		return err
	}
	var names []string
	for i := range e.cfg.submitJobs {
		name := fmt.Sprintf("kubectl-%d-%d", e.iteration+1, i+1)
		b, err := json.Marshal(jobParams{name: name, parallelism: 1, completions: 1, script: stampLine("start", dir, name)}.manifest())
		if err != nil {
			return err
		}
		file := filepath.Join(dir, name+".json")
		if err := os.WriteFile(file, b, 0o600); err != nil {
			return err
		}
		start := time.Now()
		if out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "create", "-f", file).CombinedOutput(); err != nil {
			return fmt.Errorf("kubectl create -f %s: %w: %s", file, err, out)
		}
		exited := time.Since(start)
		names = append(names, name)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		lines, err := waitStampFile(wctx, filepath.Join(dir, name), time.Millisecond)
		cancel()
		if err != nil {
			return fmt.Errorf("pod of job %s: %w (%s)", name, err, e.c.client.describeJob(ctx, name))
		}
		e.add("kubectl create -f -> pod started", "ms", millis(lines[0].at.Sub(start)))
		e.add("kubectl create -f exited", "ms", millis(exited))
	}
	if err := e.c.client.deleteAll(ctx, "job", names); err != nil {
		return err
	}

	if e.iteration == 0 {
		if err := fillSuspendedJobs(ctx, e, "watched", e.cfg.watchedJobs); err != nil {
			return err
		}
	}
	// No client-side rate limit (client-go defaults to 5 requests a second):
	// the server is measured, not the limiter.
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: server, Timeout: 30 * time.Second, QPS: 1000, Burst: 1000})
	if err != nil {
		return err
	}
	// updates carries each update event's Job name and round label.
	type update struct {
		name, round string
		at          time.Time
	}
	updates := make(chan update, 1024)
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
	inf := factory.Batch().V1().Jobs().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, obj any) {
		j := obj.(*batchv1.Job)
		if r := j.Labels["round"]; r != "" {
			updates <- update{name: j.Name, round: r, at: time.Now()}
		}
	}}); err != nil {
		return err
	}
	ictx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		factory.Shutdown()
	}()
	factory.Start(ictx.Done())
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	synced := cache.WaitForCacheSync(sctx.Done(), inf.HasSynced)
	cancel()
	if !synced {
		return errors.New("the informer did not sync within a minute")
	}
	if n := len(inf.GetStore().List()); n < e.cfg.watchedJobs {
		return fmt.Errorf("the informer lists %d Jobs, want at least %d", n, e.cfg.watchedJobs)
	}
	jobs := cs.BatchV1().Jobs("default")
	rounds := max(e.cfg.submitJobs, 20)
	for i := range rounds {
		name := fmt.Sprintf("watched-%05d", (e.iteration*rounds+i)%e.cfg.watchedJobs)
		round := strconv.Itoa(e.iteration*rounds + i + 1)
		patch := fmt.Sprintf(`{"metadata":{"labels":{"round":%q}}}`, round)
		start := time.Now()
		if _, err := jobs.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("patch %s: %w", name, err)
		}
		e.add("client-go patch through a follower returned", "ms", millis(time.Since(start)))
		deadline := time.After(10 * time.Second)
	wait:
		for {
			select {
			case u := <-updates:
				if u.name == name && u.round == round {
					e.add(fmt.Sprintf("informer over %d Jobs: patch sent -> update event", e.cfg.watchedJobs), "ms", millis(u.at.Sub(start)))
					break wait
				}
			case <-deadline:
				return fmt.Errorf("no update event for %s round %s within 10 s", name, round)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}
