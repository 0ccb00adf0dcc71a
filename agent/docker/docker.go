// Package docker runs pod containers as Docker containers through the
// engine API, with Kubernetes' semantics: command replaces the image's
// ENTRYPOINT and args its CMD, containers share the host's network, and
// resources.limits become the container's cpu and memory limits.
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/jobcluster/jobcluster/agent"
	"github.com/jobcluster/jobcluster/api"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Labels every container of the runtime carries, beside those of
// ProcessSpec.Labels.
const (
	LabelNode = agent.LabelNode
	LabelPod  = agent.LabelPod
)

// ErrImagePull is the waiting reason of a container whose image could not
// be pulled and is not present locally.
var ErrImagePull = agent.ErrImagePull

// Runtime runs containers through the Docker engine. It is safe for
// concurrent use.
type Runtime struct {
	cli    *client.Client
	node   string
	logger *slog.Logger
	guard  agent.ContainerGuard

	// AllowPrivileged lets containers run with securityContext.privileged
	// (agent --allow-privileged); AllowHostPath lets them mount hostPath
	// volumes (agent --allow-host-path). Set them before the first Start.
	AllowPrivileged, AllowHostPath bool
}

// SetGuard makes the agent's guard remove the runtime's containers should
// the agent die. Call it before the first Start.
func (r *Runtime) SetGuard(g agent.ContainerGuard) {
	if g != nil {
		r.guard = g
	}
}

// noGuard is the guard of a runtime the agent gave none.
type noGuard struct{}

func (noGuard) WatchContainer(string)  {}
func (noGuard) ForgetContainer(string) {}

// RemoveLeftovers removes every container labelled with this node: an
// agent starting again knows none of them, and a pod must not outlive the
// agent that ran it.
func (r *Runtime) RemoveLeftovers(ctx context.Context) error {
	list, err := r.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelNode+"="+r.node),
	})
	if err != nil {
		return fmt.Errorf("list containers of node %s: %w", r.node, err)
	}
	var errs []error
	for _, c := range list.Items {
		r.logger.Info("removing a container an earlier run left", "container", c.ID, "labels", c.Labels)
		errs = append(errs, r.remove(c.ID))
	}
	return errors.Join(errs...)
}

// RemoveContainers force-removes containers by ID through the engine named
// by the DOCKER_* environment: the agent's guard process calls it for the
// containers of an agent that died.
func RemoveContainers(ids []string) error {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
				errs[i] = fmt.Errorf("remove container %s: %w", id, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// New connects to the engine named by the DOCKER_* environment (the local
// socket by default; the client negotiates the API version, 1.41 on
// Docker 20.10) and checks it answers.
func New(ctx context.Context, node string, logger *slog.Logger) (*Runtime, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("reach the docker engine: %w", err)
	}
	return &Runtime{cli: cli, node: node, logger: logger, guard: noGuard{}}, nil
}

// Close releases the engine connection.
func (r *Runtime) Close() error { return r.cli.Close() }

// Version is the engine's version as kubelet reports a container runtime,
// for example docker://20.10.24.
func (r *Runtime) Version(ctx context.Context) (string, error) {
	v, err := r.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", fmt.Errorf("docker version: %w", err)
	}
	return "docker://" + v.Version, nil
}

// PullImage pulls the container's image as its imagePullPolicy says. A
// failed pull of an image present locally runs the local copy, with a
// warning; one of an image that is not present is ErrImagePull.
// It then checks runAsNonRoot against the image's user, as kubelet does.
func (r *Runtime) PullImage(ctx context.Context, spec agent.ProcessSpec) (warning string, err error) {
	c := spec.Container
	if c.GetImage() == "" {
		return "", errors.New("pull image: the container names no image")
	}
	if warning, err = r.ensureImage(ctx, c); err != nil {
		return warning, err
	}
	return warning, r.checkNonRoot(ctx, c, spec.Labels[agent.LabelPod])
}

// checkNonRoot refuses, in kubelet's words, a runAsNonRoot container that
// would run as root.
func (r *Runtime) checkNonRoot(ctx context.Context, c *api.Container, pod string) error {
	sc := c.GetSecurityContext()
	if !sc.GetRunAsNonRoot() {
		return nil
	}
	if sc.RunAsUser != nil {
		if sc.GetRunAsUser() == 0 {
			return fmt.Errorf("%w: container's runAsUser breaks non-root policy (pod: %q, container: %s)", agent.ErrCreateContainerConfig, pod, c.GetName())
		}
		return nil
	}
	img, err := r.cli.ImageInspect(ctx, c.GetImage())
	if err != nil {
		return fmt.Errorf("inspect image %s: %w", c.GetImage(), err)
	}
	user := ""
	if img.Config != nil {
		user, _, _ = strings.Cut(img.Config.User, ":")
	}
	switch uid, err := strconv.ParseInt(user, 10, 64); {
	case user == "" || user == "root" || err == nil && uid == 0:
		return fmt.Errorf("%w: container has runAsNonRoot and image will run as root (pod: %q, container: %s)", agent.ErrCreateContainerConfig, pod, c.GetName())
	case err != nil:
		return fmt.Errorf("%w: container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", agent.ErrCreateContainerConfig, user, pod, c.GetName())
	}
	return nil
}

// Start creates and starts the container and copies its output to
// spec.Stdout. An image that is not present is pulled first (the agent
// pulls through PullImage before a pod's first start).
func (r *Runtime) Start(ctx context.Context, spec agent.ProcessSpec) (agent.Process, error) {
	c := spec.Container
	if c == nil || c.GetImage() == "" {
		return nil, errors.New("start container: no image")
	}
	if _, err := r.cli.ImageInspect(ctx, c.GetImage()); err != nil {
		if _, err := r.ensureImage(ctx, c); err != nil {
			return nil, err
		}
	}
	if c.GetSecurityContext().GetPrivileged() && !r.AllowPrivileged {
		return nil, fmt.Errorf("container %s asks for privileged: this agent does not run privileged containers (agent --allow-privileged)", c.GetName())
	}
	binds, err := r.binds(c, spec.Volumes)
	if err != nil {
		return nil, err
	}
	cfg, host := containerConfig(c, spec, r.node)
	host.Binds = binds
	host.Privileged = c.GetSecurityContext().GetPrivileged()
	for _, g := range spec.SupplementalGroups {
		host.GroupAdd = append(host.GroupAdd, strconv.FormatInt(g, 10))
	}
	created, err := r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: host})
	if err != nil {
		return nil, fmt.Errorf("create container %s: %w", c.GetName(), err)
	}
	r.guard.WatchContainer(created.ID)
	p := &process{cli: r.cli, id: created.ID, copied: make(chan struct{}), guard: r.guard}
	out, err := reopen(spec.Stdout)
	if err != nil {
		_ = r.remove(created.ID)
		return nil, err
	}
	if _, err := r.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		_ = r.remove(created.ID)
		closeIf(out)
		return nil, fmt.Errorf("start container %s: %w", c.GetName(), err)
	}
	logs, err := r.cli.ContainerLogs(context.Background(), created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		closeIf(out)
		close(p.copied)
	} else {
		go func() {
			defer close(p.copied)
			defer logs.Close()
			defer closeIf(out)
			_, _ = stdcopy.StdCopy(out, out, logs)
		}()
	}
	if insp, err := r.cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{}); err == nil && insp.Container.State != nil {
		p.pid = insp.Container.State.Pid
	}
	return p, nil
}

// KillOrphan removes a container an earlier run of the agent started.
func (r *Runtime) KillOrphan(id string) error { return r.remove(id) }

func (r *Runtime) remove(id string) error {
	_, err := r.cli.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

// binds mounts the container's volumeMounts: emptyDir volumes from the
// pod's directory, hostPath volumes only when the agent allows them.
func (r *Runtime) binds(c *api.Container, volumes []agent.Volume) ([]string, error) {
	var binds []string
	for _, m := range c.GetVolumeMounts() {
		i := slices.IndexFunc(volumes, func(v agent.Volume) bool { return v.Name == m.GetName() })
		if i < 0 {
			return nil, fmt.Errorf("container %s mounts volume %q, which the pod does not declare", c.GetName(), m.GetName())
		}
		v := volumes[i]
		if v.HostPath && !r.AllowHostPath {
			return nil, fmt.Errorf("container %s mounts hostPath volume %q: this agent mounts no hostPath volumes (agent --allow-host-path)", c.GetName(), v.Name)
		}
		src := v.Path
		if sp := m.GetSubPath(); sp != "" {
			src = filepath.Join(src, sp)
			// An emptyDir's subPath is made; a configMap or secret
			// volume's names one of its files or directories.
			if !v.HostPath && !v.ReadOnly {
				if err := os.MkdirAll(src, 0o777); err != nil {
					return nil, fmt.Errorf("create subPath %s of volume %s: %w", sp, v.Name, err)
				}
			}
		}
		bind := src + ":" + m.GetMountPath()
		if m.GetReadOnly() || v.ReadOnly {
			bind += ":ro"
		}
		binds = append(binds, bind)
	}
	return binds, nil
}

// ensureImage pulls the image when the policy asks for it. A failed pull
// of an image present locally runs the local copy and says so in the
// warning.
func (r *Runtime) ensureImage(ctx context.Context, c *api.Container) (warning string, err error) {
	image := c.GetImage()
	_, inspectErr := r.cli.ImageInspect(ctx, image)
	present := inspectErr == nil
	policy := api.ImagePullPolicy(c)
	switch {
	case policy == api.PullNever && !present:
		return "", fmt.Errorf("%w: ErrImageNeverPull: container image %q is not present with pull policy of Never", ErrImagePull, image)
	case policy == api.PullNever, policy == api.PullIfNotPresent && present:
		return "", nil
	}
	pullErr := r.pull(ctx, image)
	switch {
	case pullErr == nil:
		return "", nil
	case present:
		r.logger.Debug("pull failed, running the local image", "image", image, "err", pullErr)
		return fmt.Sprintf("Failed to pull image %q (%v): running the copy present on the node", image, pullErr), nil
	}
	return "", fmt.Errorf("%w: failed to pull image %q: %v", ErrImagePull, image, pullErr)
}

func (r *Runtime) pull(ctx context.Context, image string) error {
	resp, err := r.cli.ImagePull(ctx, image, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Wait(ctx)
}

// containerConfig maps a container spec to the engine's configuration.
func containerConfig(c *api.Container, spec agent.ProcessSpec, node string) (*container.Config, *container.HostConfig) {
	labels := map[string]string{LabelNode: node}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	cfg := &container.Config{
		Image:      c.GetImage(),
		Entrypoint: c.GetCommand(),
		Cmd:        c.GetArgs(),
		Env:        spec.Env,
		WorkingDir: c.GetWorkingDir(),
		Labels:     labels,
	}
	host := &container.HostConfig{NetworkMode: "host"}
	limits := c.GetResources().GetLimits()
	if m, err := api.ParseBytes(limits["memory"]); err == nil && m > 0 {
		host.Memory = m
		host.MemorySwap = m
	}
	if cpu, err := api.ParseCPUMillis(limits["cpu"]); err == nil && cpu > 0 {
		host.NanoCPUs = cpu * 1_000_000
	}
	if sc := c.GetSecurityContext(); sc != nil {
		if sc.RunAsUser != nil {
			cfg.User = strconv.FormatInt(sc.GetRunAsUser(), 10)
			if sc.RunAsGroup != nil {
				cfg.User += ":" + strconv.FormatInt(sc.GetRunAsGroup(), 10)
			}
		}
		host.ReadonlyRootfs = sc.GetReadOnlyRootFilesystem()
	}
	return cfg, host
}

// reopen opens its own handle on an *os.File writer, which the caller
// closes once Start returns; other writers are used as they are.
func reopen(w io.Writer) (io.Writer, error) {
	f, ok := w.(*os.File)
	if !ok || w == nil {
		if w == nil {
			return io.Discard, nil
		}
		return w, nil
	}
	own, err := os.OpenFile(f.Name(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen container log: %w", err)
	}
	return own, nil
}

func closeIf(w io.Writer) {
	if c, ok := w.(*os.File); ok {
		_ = c.Close()
	}
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// process is one running container.
type process struct {
	cli    *client.Client
	id     string
	pid    int
	copied chan struct{} // closed when the output is copied
	guard  agent.ContainerGuard

	once    sync.Once
	code    int
	oom     bool
	waitErr error
}

// Wait waits for the container to end, then removes it. An OOM kill
// exits 137 as kubelet reports it.
func (p *process) Wait() (int, error) {
	p.once.Do(func() {
		ctx := context.Background()
		res := p.cli.ContainerWait(ctx, p.id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		select {
		case r := <-res.Result:
			p.code = int(r.StatusCode)
		case err := <-res.Error:
			p.waitErr = fmt.Errorf("wait for container %s: %w", p.id, err)
		}
		if insp, err := p.cli.ContainerInspect(ctx, p.id, client.ContainerInspectOptions{}); err == nil && insp.Container.State != nil {
			p.oom = insp.Container.State.OOMKilled
			if p.oom {
				p.code = 137
			}
		}
		<-p.copied
		if _, err := p.cli.ContainerRemove(ctx, p.id, client.ContainerRemoveOptions{Force: true}); err == nil || isNotFound(err) {
			p.guard.ForgetContainer(p.id)
		}
	})
	return p.code, p.waitErr
}

// OOMKilled reports whether the kernel killed the container for memory;
// it is meaningful once Wait has returned.
func (p *process) OOMKilled() bool { return p.oom }

// Signal sends sig to the container's main process.
func (p *process) Signal(sig syscall.Signal) error {
	_, err := p.cli.ContainerKill(context.Background(), p.id, client.ContainerKillOptions{Signal: strconv.Itoa(int(sig))})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("signal container %s: %w", p.id, err)
	}
	return nil
}

func (p *process) PID() int   { return p.pid }
func (p *process) ID() string { return p.id }
