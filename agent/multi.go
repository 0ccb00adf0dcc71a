package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrImagePull marks a Start or PullImage error of a container whose image
// could not be pulled and is not present locally: the pod waits with
// kubelet's ErrImagePull and ImagePullBackOff and tries again, rather
// than failing.
var ErrImagePull = errors.New("ErrImagePull")

// ErrCreateContainerConfig marks a PullImage error of a container that
// cannot start as its spec says (runAsNonRoot with an image whose user is
// root): the pod waits with kubelet's CreateContainerConfigError.
var ErrCreateContainerConfig = errors.New("CreateContainerConfigError")

// ImagePuller is a runtime that fetches a container's image before Start,
// as its imagePullPolicy says, and checks the container against the image.
// The agent calls it before the pod's first start, waiting and retrying on
// ErrImagePull and ErrCreateContainerConfig. A warning (a local copy used
// when the pull failed) becomes a Warning event of the pod.
type ImagePuller interface {
	PullImage(ctx context.Context, spec ProcessSpec) (warning string, err error)
}

// LeftoverRemover is a runtime that can find what an earlier run of the
// agent left running (containers labelled with the node) and remove it.
// The agent calls it once at start, before running any pod.
type LeftoverRemover interface {
	RemoveLeftovers(ctx context.Context) error
}

// Multi runs each pod with the runtime it asks for in
// ProcessSpec.RuntimeClass, and with its first runtime when it asks for
// none.
type Multi struct {
	names  []string
	byName map[string]Runtime
}

// NewMulti returns a runtime that dispatches to runtimes by name; the
// first name is the default.
func NewMulti(names []string, runtimes []Runtime) (*Multi, error) {
	if len(names) == 0 || len(names) != len(runtimes) {
		return nil, fmt.Errorf("runtimes: %d names for %d runtimes", len(names), len(runtimes))
	}
	m := &Multi{names: names, byName: map[string]Runtime{}}
	for i, n := range names {
		if strings.Contains(n, ":") || n == "" {
			return nil, fmt.Errorf("runtime name %q: use letters and digits", n)
		}
		if m.byName[n] != nil {
			return nil, fmt.Errorf("runtime %q listed twice", n)
		}
		m.byName[n] = runtimes[i]
	}
	return m, nil
}

func (m *Multi) pick(class string) (string, Runtime, error) {
	if class == "" {
		class = m.names[0]
	}
	rt := m.byName[class]
	if rt == nil {
		return "", nil, fmt.Errorf("runtime class %q: this agent runs %s (agent --runtime)", class, strings.Join(m.names, ", "))
	}
	return class, rt, nil
}

// Start starts spec with the runtime it names. Process IDs of other
// runtimes than the first carry the runtime's name, so KillOrphan finds it
// again after a restart.
func (m *Multi) Start(ctx context.Context, spec ProcessSpec) (Process, error) {
	name, rt, err := m.pick(spec.RuntimeClass)
	if err != nil {
		return nil, err
	}
	p, err := rt.Start(ctx, spec)
	if err != nil || name == m.names[0] {
		return p, err
	}
	return &namedProcess{Process: p, id: name + ":" + p.ID()}, nil
}

// Prepare prepares spec with the runtime it names, when that runtime
// prepares runs.
func (m *Multi) Prepare(ctx context.Context, spec ProcessSpec) (Prepared, error) {
	name, rt, err := m.pick(spec.RuntimeClass)
	if err != nil {
		return nil, err
	}
	p, ok := rt.(Preparer)
	if !ok {
		return nil, nil
	}
	pp, err := p.Prepare(ctx, spec)
	if err != nil || pp == nil || name == m.names[0] {
		return pp, err
	}
	return &namedPrepared{Prepared: pp, id: name + ":" + pp.ID()}, nil
}

// namedPrepared is a run prepared by a runtime other than the first.
type namedPrepared struct {
	Prepared
	id string
}

func (p *namedPrepared) ID() string { return p.id }

func (p *namedPrepared) Begin() (Process, error) {
	proc, err := p.Prepared.Begin()
	if err != nil {
		return nil, err
	}
	return &namedProcess{Process: proc, id: p.id}, nil
}

// PullImage pulls spec's image when its runtime pulls images.
func (m *Multi) PullImage(ctx context.Context, spec ProcessSpec) (string, error) {
	_, rt, err := m.pick(spec.RuntimeClass)
	if err != nil {
		return "", err
	}
	if p, ok := rt.(ImagePuller); ok {
		return p.PullImage(ctx, spec)
	}
	return "", nil
}

// KillOrphan passes id to the runtime that started it.
func (m *Multi) KillOrphan(id string) error {
	if name, rest, ok := strings.Cut(id, ":"); ok {
		if rt := m.byName[name]; rt != nil {
			return rt.KillOrphan(rest)
		}
		return fmt.Errorf("kill orphan %s: this agent no longer runs runtime %q", id, name)
	}
	return m.byName[m.names[0]].KillOrphan(id)
}

// RemoveLeftovers asks every runtime that can to remove what an earlier
// run left.
func (m *Multi) RemoveLeftovers(ctx context.Context) error {
	var errs []error
	for _, n := range m.names {
		if r, ok := m.byName[n].(LeftoverRemover); ok {
			errs = append(errs, r.RemoveLeftovers(ctx))
		}
	}
	return errors.Join(errs...)
}

// removeCgroupParents has every runtime remove the cgroup parents it made.
func (m *Multi) removeCgroupParents() {
	for _, rt := range m.byName {
		removeCgroupParents(rt)
	}
}

// removeCgroupParents has a runtime that made cgroup parent directories
// remove them.
func removeCgroupParents(rt Runtime) {
	if r, ok := rt.(interface{ removeCgroupParents() }); ok {
		r.removeCgroupParents()
	}
}

func (m *Multi) useGuard(g *guard) {
	for _, rt := range m.byName {
		giveGuard(rt, g)
	}
}

// giveGuard hands the guard to a runtime that uses one.
func giveGuard(rt Runtime, g *guard) {
	switch r := rt.(type) {
	case interface{ useGuard(*guard) }:
		r.useGuard(g)
	case GuardedRuntime:
		r.SetGuard(g)
	}
}

// namedProcess is a process whose ID names its runtime.
type namedProcess struct {
	Process
	id string
}

func (p *namedProcess) ID() string { return p.id }

// OOMKilled passes on the runtime's answer, if it gives one.
func (p *namedProcess) OOMKilled() bool {
	o, ok := p.Process.(interface{ OOMKilled() bool })
	return ok && o.OOMKilled()
}
