package agent

import (
	"context"
	"io"
	"syscall"

	"github.com/jobcluster/jobcluster/api"
)

// Runtime starts the processes of pod containers. The process runtime runs
// them as plain processes; a container runtime could implement the same
// interface. Implementations must be safe for concurrent use.
type Runtime interface {
	// Start starts one run of a container and returns once it is running.
	Start(ctx context.Context, spec ProcessSpec) (Process, error)
	// KillOrphan kills whatever is left of a process that an earlier run of
	// the agent started, named by the Process.ID it had. It is no error if
	// nothing is left.
	KillOrphan(id string) error
}

// Preparer is a Runtime that can make a run ready ahead of the moment it
// must start, so that starting it then costs next to nothing: Prepare does
// everything Start does short of letting the run execute its first
// instruction. It returns nil, and no error, where preparing would gain
// nothing; the caller then calls Start at the moment.
type Preparer interface {
	Prepare(ctx context.Context, spec ProcessSpec) (Prepared, error)
}

// Prepared is a run that Prepare made ready and that has not begun.
type Prepared interface {
	// ID is the ID its Process will have: a crash before Begin leaves a
	// run that KillOrphan must find.
	ID() string
	// Begin lets the run start and returns it.
	Begin() (Process, error)
	// Discard ends the run unstarted and frees what it held.
	Discard()
}

// Labels a container runtime puts on the containers it runs.
const (
	LabelNode = "jobcluster.io/node"
	LabelPod  = "jobcluster.io/pod"
	LabelJob  = "jobcluster.io/job"
	LabelUID  = "jobcluster.io/uid"
)

// ProcessSpec is what one run of a container needs.
type ProcessSpec struct {
	// Command is the argv: container command followed by its args.
	Command []string
	// Env holds KEY=value entries; a later entry wins over an earlier one
	// with the same key.
	Env []string
	// Dir is the working directory.
	Dir string
	// Stdout receives standard output and standard error, interleaved.
	// A runtime that writes after Start has returned (a container runtime)
	// reopens it by name when it is an *os.File: the caller closes its
	// own handle once Start returns.
	Stdout io.Writer
	// Container is the container's spec; a container runtime takes its
	// image, command (the ENTRYPOINT), args (the CMD), limits and security
	// context from it. Nil for callers that only run Command.
	Container *api.Container
	// Labels name the pod, Job, node and uid the run belongs to.
	Labels map[string]string
	// RuntimeClass is the runtime the pod needs (api.PodRuntime); empty
	// means the agent's default. Only Multi reads it.
	RuntimeClass string
	// SupplementalGroups are the pod's securityContext.supplementalGroups,
	// added to the groups of the container's process.
	SupplementalGroups []int64
	// Volumes are the pod's volumes as directories of this machine, for
	// the container's volumeMounts.
	Volumes []Volume
}

// Volume is one of a pod's volumes on the agent's machine.
type Volume struct {
	Name string
	// Path is the directory: the pod's own for an emptyDir, the given one
	// for a hostPath.
	Path string
	// HostPath is true for a hostPath volume, which an agent mounts only
	// when allowed to.
	HostPath bool
	// ReadOnly is true for a configMap or secret volume, which is always
	// mounted read-only, as in Kubernetes.
	ReadOnly bool
}

// Process is one running container process. Its methods are safe for
// concurrent use.
type Process interface {
	// Wait blocks until the process has ended and returns its exit code:
	// 128+n when it was killed by signal n, as kubelet shows it.
	Wait() (exitCode int, err error)
	// Signal sends sig to the whole process group. After Wait has
	// returned it does nothing.
	Signal(sig syscall.Signal) error
	// PID is the process ID, which is also its process group ID.
	PID() int
	// ID names the process in a way that survives agent restarts, for
	// Runtime.KillOrphan.
	ID() string
}
