package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	docker "github.com/moby/moby/client"
)

// dockerAgentArgs are the agent flags of the docker scenario: both
// runtimes, and hostPath mounts for the pods' stamp directory.
var dockerAgentArgs = []string{"--runtime", "process,docker", "--allow-host-path"}

// dockerJobs is how many one-container Jobs the docker scenario runs to
// Complete in one call.
const dockerJobs = 200

// runDocker measures the Docker runtime against the engine itself: submit
// -> the container's process started (it writes the time to a mounted
// directory), then the same container created and started straight
// through the engine's API (the floor); and 200 one-container Jobs to
// Complete against 200 containers created, started and waited for through
// the engine, 3 at a time as the 3 agents do.
func runDocker(ctx context.Context, e *env) error {
	image, cleanup, err := buildStampImage(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	cli, err := docker.New(docker.FromEnv)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	dir, err := e.stampDir()
	if err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return err
	}
	stamp := func(name string) []string { return []string{"/stamp", "/stamps/" + name} }
	var names []string
	for i := range e.cfg.submitJobs {
		name := fmt.Sprintf("docker-%d-%d", e.iteration+1, i+1)
		objs, err := decode(containerJob(name, image, dir, stamp(name)))
		if err != nil {
			return err
		}
		start := time.Now()
		if err := e.c.client.submit(ctx, objs); err != nil {
			return err
		}
		names = append(names, name)
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		at, err := waitStamp(wctx, filepath.Join(dir, name))
		cancel()
		if err != nil {
			return fmt.Errorf("container of job %s: %w (%s)", name, err, e.c.client.describeJob(ctx, name))
		}
		e.add("submit -> container process started", "ms", millis(at.Sub(start)))

		floor := "floor-" + name
		start = time.Now()
		id, err := engineRun(ctx, cli, image, dir, stamp(floor))
		if err != nil {
			return err
		}
		wctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		at, err = waitStamp(wctx, filepath.Join(dir, floor))
		cancel()
		if err != nil {
			return fmt.Errorf("floor container: %w", err)
		}
		e.add("engine create + start -> container process started (the floor)", "ms", millis(at.Sub(start)))
		_, _ = cli.ContainerRemove(ctx, id, docker.ContainerRemoveOptions{Force: true})
	}
	if err := e.c.client.deleteAll(ctx, "job", names); err != nil {
		return err
	}

	var manifests []map[string]any
	label := fmt.Sprintf("docker-many-%d", e.iteration+1)
	for i := range dockerJobs {
		m := containerJob(fmt.Sprintf("%s-%d", label, i), image, dir, []string{"/stamp"})
		m["metadata"].(map[string]any)["labels"] = map[string]string{"bench": label}
		manifests = append(manifests, m)
	}
	objs, err := decode(manifests...)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := e.c.client.submit(ctx, objs); err != nil {
		return err
	}
	if _, err := e.c.client.waitJobsComplete(ctx, "bench="+label, dockerJobs, 2*time.Minute, nil); err != nil {
		return err
	}
	e.add(fmt.Sprintf("%d one-container Jobs submitted -> all Complete", dockerJobs), "s", seconds(time.Since(start)))
	var jobNames []string
	for i := range dockerJobs {
		jobNames = append(jobNames, fmt.Sprintf("%s-%d", label, i))
	}
	if err := e.c.client.deleteAll(ctx, "job", jobNames); err != nil {
		return err
	}

	start = time.Now()
	if err := engineRunMany(ctx, cli, image, dockerJobs, 3); err != nil {
		return err
	}
	e.add(fmt.Sprintf("%d containers through the engine, 3 at a time, -> all exited (the floor)", dockerJobs), "s", seconds(time.Since(start)))
	return nil
}

// containerJob is a Job of one container of image running command, with
// dir mounted at /stamps.
func containerJob(name, image, dir string, command []string) map[string]any {
	return map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"backoffLimit": 0,
			"template": map[string]any{"spec": map[string]any{
				"restartPolicy": "Never",
				"volumes":       []any{map[string]any{"name": "stamp", "hostPath": map[string]any{"path": dir}}},
				"containers": []any{map[string]any{
					"name": "main", "image": image, "command": command,
					"volumeMounts": []any{map[string]any{"name": "stamp", "mountPath": "/stamps"}},
				}},
			}},
		},
	}
}

// engineRun creates and starts a container straight through the engine,
// as the runtime does, with host networking and dir at /stamps.
func engineRun(ctx context.Context, cli *docker.Client, image, dir string, command []string) (string, error) {
	created, err := cli.ContainerCreate(ctx, docker.ContainerCreateOptions{
		Config:     &container.Config{Image: image, Entrypoint: command},
		HostConfig: &container.HostConfig{NetworkMode: "host", Binds: []string{dir + ":/stamps"}},
	})
	if err != nil {
		return "", fmt.Errorf("engine create: %w", err)
	}
	if _, err := cli.ContainerStart(ctx, created.ID, docker.ContainerStartOptions{}); err != nil {
		return created.ID, fmt.Errorf("engine start: %w", err)
	}
	return created.ID, nil
}

// engineRunMany runs n containers of /stamp (which only exits) through the engine, par at
// a time, each created, started, waited for and removed.
func engineRunMany(ctx context.Context, cli *docker.Client, image string, n, par int) error {
	sem := make(chan struct{}, par)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			created, err := cli.ContainerCreate(ctx, docker.ContainerCreateOptions{
				Config:     &container.Config{Image: image, Entrypoint: []string{"/stamp"}},
				HostConfig: &container.HostConfig{NetworkMode: "host"},
			})
			if err != nil {
				errs <- err
				return
			}
			defer cli.ContainerRemove(context.Background(), created.ID, docker.ContainerRemoveOptions{Force: true})
			res := cli.ContainerWait(ctx, created.ID, docker.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
			if _, err := cli.ContainerStart(ctx, created.ID, docker.ContainerStartOptions{}); err != nil {
				errs <- err
				return
			}
			select {
			case <-res.Result:
			case err := <-res.Error:
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return fmt.Errorf("engine run: %w", err)
	}
	return nil
}

// waitStamp waits for the file a container writes its start time to.
func waitStamp(ctx context.Context, path string) (time.Time, error) {
	var at time.Time
	err := poll(ctx, time.Millisecond, "stamp "+filepath.Base(path), func() (bool, string) {
		b, err := os.ReadFile(path)
		if err != nil {
			return false, err.Error()
		}
		f := strings.Fields(string(b))
		if len(f) != 2 {
			return false, "no line yet"
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return false, err.Error()
		}
		at = time.Unix(0, ns)
		return true, ""
	})
	return at, err
}

// buildStampImage builds images/stamp into an image FROM scratch and
// returns its name and how to remove it.
func buildStampImage(ctx context.Context) (string, func(), error) {
	dir, err := os.MkdirTemp("", "jobcluster-bench-image-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(dir)
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s", "-o", filepath.Join(dir, "stamp"), "./images/stamp")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if root, err := moduleRoot(ctx); err == nil {
		build.Dir = root
	}
	if out, err := build.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("build images/stamp: %v\n%s", err, out)
	}
	df := "FROM scratch\nCOPY stamp /stamp\nENTRYPOINT [\"/stamp\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		return "", nil, err
	}
	image := fmt.Sprintf("jobcluster-bench/stamp:p%d", os.Getpid())
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "-t", image, dir).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("docker build: %v\n%s", err, out)
	}
	return image, func() { _ = exec.Command("docker", "rmi", "-f", image).Run() }, nil
}
