package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/jobcluster/jobcluster/api"
)

// A process pod that mounts volumes runs in a mount namespace of its own:
// the agent starts it through a small exec shim (MountExec, this same
// binary) in a new mount namespace, the shim bind-mounts each volume at
// its mountPath there, drops to the pod's user and execs the container's
// command. The mounts exist only in that namespace: the node's own files
// are unchanged, and nothing else sees them.

// mount is one bind mount the shim makes.
type mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// mountExec is what the shim is given, as JSON in its one argument.
type mountExec struct {
	Mounts []mount `json:"mounts"`
	// Credential is the user to run as; nil keeps root.
	UID    *uint32  `json:"uid,omitempty"`
	GID    uint32   `json:"gid,omitempty"`
	Groups []uint32 `json:"groups,omitempty"`
	// KeepGroups keeps the supplementary groups the shim has.
	KeepGroups bool     `json:"keepGroups,omitempty"`
	Path       string   `json:"path"`
	Args       []string `json:"args"`
}

// MountExec is the shim's whole run: it is started in a new mount
// namespace (private from its root down), makes the mounts, becomes the
// pod's user and execs the command. It returns only on failure, which the
// caller prints and exits non-zero on.
func MountExec(arg string) error {
	var m mountExec
	if err := json.Unmarshal([]byte(arg), &m); err != nil {
		return fmt.Errorf("mount exec: read spec: %w", err)
	}
	for _, mt := range m.Mounts {
		if err := unix.Mount(mt.Source, mt.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("mount %s at %s: %w", mt.Source, mt.Target, err)
		}
		if mt.ReadOnly {
			if err := unix.Mount("", mt.Target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("make %s read-only: %w", mt.Target, err)
			}
		}
	}
	if m.UID != nil {
		groups := make([]int, len(m.Groups))
		for i, g := range m.Groups {
			groups[i] = int(g)
		}
		if !m.KeepGroups {
			if err := syscall.Setgroups(groups); err != nil {
				return fmt.Errorf("set groups: %w", err)
			}
		}
		if err := syscall.Setgid(int(m.GID)); err != nil {
			return fmt.Errorf("set gid %d: %w", m.GID, err)
		}
		if err := syscall.Setuid(int(*m.UID)); err != nil {
			return fmt.Errorf("set uid %d: %w", *m.UID, err)
		}
		// A change of user clears the parent-death signal: set it again,
		// so the pod still dies with its agent.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
			return fmt.Errorf("set parent-death signal: %w", err)
		}
	}
	return syscall.Exec(m.Path, m.Args, os.Environ())
}

// mountTargets creates the mountPaths that do not exist on the node, for
// as long as some run uses them, and removes them after: an empty
// directory (or file, for a subPath of a file) is what a bind mount needs
// to cover, and the node keeps nothing of it.
type mountTargets struct {
	mu    sync.Mutex
	users map[string]int      // target -> runs using it
	chain map[string][]string // target -> the paths made for it or shared with it, deepest first
	refs  map[string]int      // path made here -> targets whose chain holds it
}

// acquire makes target (a directory, or a file when file is set) and the
// directories above it that do not exist, and counts one more run using
// it.
func (t *mountTargets) acquire(target string, file bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users == nil {
		t.users, t.chain, t.refs = map[string]int{}, map[string][]string{}, map[string]int{}
	}
	if t.users[target] == 0 {
		// The paths this target needs made, or made for another one.
		var chain []string
		for p := target; p != "/" && p != "."; p = filepath.Dir(p) {
			_, err := os.Lstat(p)
			if err == nil && t.refs[p] == 0 {
				break
			}
			chain = append(chain, p)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			p := chain[i]
			if t.refs[p] > 0 {
				continue
			}
			var err error
			if p == target && file {
				var f *os.File
				if f, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
					f.Close()
				}
			} else {
				err = os.Mkdir(p, 0o755)
			}
			if err != nil {
				t.drop(chain[i+1:])
				return fmt.Errorf("create mount point %s: %w", p, err)
			}
		}
		for _, p := range chain {
			t.refs[p]++
		}
		t.chain[target] = chain
	}
	t.users[target]++
	return nil
}

// release counts one run fewer using target; the last one removes what
// was made for it and for no other target.
func (t *mountTargets) release(target string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users[target]--; t.users[target] > 0 {
		return
	}
	delete(t.users, target)
	chain := t.chain[target]
	delete(t.chain, target)
	for _, p := range chain {
		t.refs[p]--
	}
	t.drop(chain)
}

// drop removes the paths of chain, deepest first, that no target holds.
func (t *mountTargets) drop(chain []string) {
	for _, p := range chain {
		if t.refs[p] > 0 {
			continue
		}
		delete(t.refs, p)
		_ = os.Remove(p)
	}
}

// podMounts turns a container's volumeMounts into the shim's mounts.
func podMounts(c *api.Container, volumes []Volume) ([]mount, error) {
	var out []mount
	for _, m := range c.GetVolumeMounts() {
		i := slices.IndexFunc(volumes, func(v Volume) bool { return v.Name == m.GetName() })
		if i < 0 {
			return nil, fmt.Errorf("container %s mounts volume %q, which the pod does not declare", c.GetName(), m.GetName())
		}
		v := volumes[i]
		src := v.Path
		if sp := m.GetSubPath(); sp != "" {
			src = filepath.Join(src, sp)
			if !v.HostPath && !v.ReadOnly {
				if err := os.MkdirAll(src, 0o777); err != nil {
					return nil, fmt.Errorf("create subPath %s of volume %s: %w", sp, v.Name, err)
				}
			}
		}
		out = append(out, mount{Source: src, Target: filepath.Clean(m.GetMountPath()), ReadOnly: m.GetReadOnly() || v.ReadOnly})
	}
	return out, nil
}
