package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// namedRuntime records what it was asked to do; its processes have the ID
// "<name>-<n>".
type namedRuntime struct {
	name    string
	started int
	killed  []string
	pulled  int
}

func (r *namedRuntime) Start(context.Context, ProcessSpec) (Process, error) {
	r.started++
	return fakeProc{id: r.name + "-1"}, nil
}

func (r *namedRuntime) KillOrphan(id string) error {
	r.killed = append(r.killed, id)
	return nil
}

type pullingRuntime struct{ namedRuntime }

func (r *pullingRuntime) PullImage(context.Context, ProcessSpec) (string, error) {
	r.pulled++
	return "", ErrImagePull
}

type fakeProc struct {
	Process
	id string
}

func (p fakeProc) ID() string { return p.id }

func TestMultiDispatchesByRuntimeClass(t *testing.T) {
	proc := &namedRuntime{name: "process"}
	dock := &pullingRuntime{namedRuntime{name: "docker"}}
	m, err := NewMulti([]string{"process", "docker"}, []Runtime{proc, dock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := m.Start(ctx, ProcessSpec{})
	if err != nil || p.ID() != "process-1" || proc.started != 1 {
		t.Fatalf("no class: ID %q, err %v, process runtime started %d; want the default runtime's own ID", p.ID(), err, proc.started)
	}
	p, err = m.Start(ctx, ProcessSpec{RuntimeClass: "docker"})
	if err != nil || p.ID() != "docker:docker-1" || dock.started != 1 {
		t.Fatalf("docker class: ID %q, err %v; want the ID prefixed with its runtime", p.ID(), err)
	}
	if _, err := m.Start(ctx, ProcessSpec{RuntimeClass: "gvisor"}); err == nil || !strings.Contains(err.Error(), "this agent runs process, docker") {
		t.Errorf("unknown class: %v, want an error naming the agent's runtimes", err)
	}
	if _, err := m.PullImage(ctx, ProcessSpec{}); err != nil {
		t.Errorf("pull on the process runtime: %v, want nothing to pull", err)
	}
	if _, err := m.PullImage(ctx, ProcessSpec{RuntimeClass: "docker"}); !errors.Is(err, ErrImagePull) || dock.pulled != 1 {
		t.Errorf("pull on docker: %v after %d pulls, want docker's ErrImagePull", err, dock.pulled)
	}
	for _, id := range []string{"docker:abc", "123/boot/9"} {
		if err := m.KillOrphan(id); err != nil {
			t.Fatal(err)
		}
	}
	if len(dock.killed) != 1 || dock.killed[0] != "abc" || len(proc.killed) != 1 || proc.killed[0] != "123/boot/9" {
		t.Errorf("orphans went to docker %v and process %v, want abc and 123/boot/9", dock.killed, proc.killed)
	}
	if err := m.KillOrphan("nomad:x"); err == nil {
		t.Error("an orphan of a runtime the agent no longer runs gave no error")
	}
	for _, names := range [][]string{nil, {"process", "process"}, {"a:b", "c"}} {
		rts := make([]Runtime, len(names))
		for i := range rts {
			rts[i] = proc
		}
		if _, err := NewMulti(names, rts); err == nil {
			t.Errorf("NewMulti(%q) gave no error", names)
		}
	}
}
