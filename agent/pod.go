package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

const defaultGracePeriod = 30 * time.Second

// stopRequest asks a pod runner to end its pod: SIGTERM, then SIGKILL once
// grace has passed (at once for zero). A non-empty reason becomes the
// pod's status.reason.
type stopRequest struct {
	grace   time.Duration
	reason  string
	message string
}

type containerExit struct {
	index int
	code  int
	err   error
	at    time.Time // when the wait for the process returned
}

// podRunner runs one pod: it starts its containers, restarts them in place
// for restartPolicy OnFailure, stops them on request, and reports each
// status change. One goroutine (run) owns the pod's state; other goroutines
// talk to it through channels and the fields under mu.
type podRunner struct {
	sup    *supervisor
	rec    *podRecord
	pod    *api.Pod
	config podConfig // the ConfigMaps and Secrets when it started
	// shipped is the size of each log (by path) when its tail was last
	// sent to the servers.
	shipped    map[string]int64
	dir        string
	containers []*containerRun
	started    time.Time

	exits    chan containerExit
	restarts chan int
	stopped  chan struct{} // has a stop request pending, capacity 1
	// released is closed once the pod may start: at once, or for a pod
	// its servers hold (api.PodSet.held), once they no longer do.
	released    chan struct{}
	releaseOnce sync.Once
	// timed signals (capacity 1) that the pod's timed release (timedAt,
	// under mu) was given or taken back.
	timed chan struct{}
	// wasHeld is set when the pod had to wait for its release.
	wasHeld bool

	stopping   bool
	stopReason string
	stopMsg    string
	killAt     time.Time
	killed     bool // SIGKILL was sent
	published  *api.PodStatus
	events     []*api.Event // to send with the next report

	// logMu orders log rotations with the readers that follow the logs;
	// rotations counts each container's (see logFollower).
	logMu     sync.Mutex
	rotations map[string]int

	mu      sync.Mutex
	pending *stopRequest
	alive   map[string]bool // containers whose process runs now
	pids    map[string]int  // the process of each running container, for usage
	// timedAt is when the pod starts, released ahead of its time
	// (api.PodSet.timed); zero if it was not.
	timedAt time.Time
}

func newPodRunner(s *supervisor, rec *podRecord, pod *api.Pod) *podRunner {
	r := &podRunner{
		sup:       s,
		rec:       rec,
		pod:       pod,
		dir:       s.journal.podDir(pod.GetMetadata().GetName()),
		stopped:   make(chan struct{}, 1),
		released:  make(chan struct{}),
		timed:     make(chan struct{}, 1),
		alive:     map[string]bool{},
		rotations: map[string]int{},
	}
	for _, c := range pod.GetSpec().GetContainers() {
		r.containers = append(r.containers, &containerRun{spec: c})
		// About to start: a log follower that comes early must wait.
		r.alive[c.GetName()] = true
	}
	r.exits = make(chan containerExit, len(r.containers))
	r.restarts = make(chan int, len(r.containers))
	return r
}

func (r *podRunner) name() string { return r.pod.GetMetadata().GetName() }

// release lets the pod start; safe to call more than once, from any
// goroutine.
func (r *podRunner) release() { r.releaseOnce.Do(func() { close(r.released) }) }

// releaseAt lets the pod start at the time its api.AnnotationNotBefore
// names, on this agent's clock: its servers released it a little ahead of
// that time (api.PodSet.timed). A pod that names no time is released at
// once.
func (r *podRunner) releaseAt() {
	at, ok := api.NotBefore(r.pod.GetMetadata().GetAnnotations())
	if !ok {
		r.release()
		return
	}
	r.setTimed(at)
}

// hold takes back a timed release whose time has not come; a release
// (release) cannot be taken back.
func (r *podRunner) hold() { r.setTimed(time.Time{}) }

func (r *podRunner) setTimed(at time.Time) {
	r.mu.Lock()
	changed := !r.timedAt.Equal(at)
	r.timedAt = at
	r.mu.Unlock()
	if changed {
		select {
		case r.timed <- struct{}{}:
		default:
		}
	}
}

func (r *podRunner) timedRelease() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.timedAt
}

// heldReportAfter is how soon a pod that waited for its release reports
// that it started. Not at once: the report's Raft write, on every server,
// would compete for the CPU with the process's first milliseconds, the
// ones a run on the second is about (BENCHMARKS.md).
const heldReportAfter = 10 * time.Millisecond

// maxTimedWait bounds how long after its timed release a pod starts,
// whatever time it names: its servers release it a few milliseconds
// ahead, so a longer wait means this machine's clock is behind theirs.
const maxTimedWait = time.Second

// beginSpin is how long before a timed release's time the runner stops
// sleeping and watches the clock: Go's timers may wake a millisecond
// late, which is the whole of what a timed release is for.
const beginSpin = 2 * time.Millisecond

// waitRelease waits, once the pod is prepared, until its servers release
// it: a CronJob's run decided ahead of its time starts at that time, as
// the leader says, or at the time its timed release names. It returns
// false when the pod was stopped or reached its deadline first
// (r.stopReason and r.stopMsg then say why).
func (r *podRunner) waitRelease(deadline <-chan time.Time) bool {
	select {
	case <-r.released:
		return true
	default:
	}
	r.wasHeld = true
	r.sup.logger.Debug("pod held until its time", "pod", r.name())
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var at time.Time // of the timed release the timer is set for
	var begin time.Time
	var wake <-chan time.Time
	arm := func() {
		if timer != nil {
			timer.Stop()
		}
		at, wake = r.timedRelease(), nil
		if at.IsZero() {
			return
		}
		now := time.Now()
		begin = at
		if latest := now.Add(maxTimedWait); begin.After(latest) {
			r.sup.logger.Warn("pod released to start later than a timed release can be: is this machine's clock behind its servers'?",
				"pod", r.name(), "at", at, "starting", latest)
			begin = latest
		}
		timer = time.NewTimer(begin.Sub(now) - beginSpin)
		wake = timer.C
	}
	arm()
	for {
		select {
		case <-r.released:
			r.started = r.sup.now()
			return true
		case <-r.timed:
			arm()
		case <-wake:
			for time.Now().Before(begin) {
				runtime.Gosched()
			}
			if r.timedRelease().Equal(at) {
				r.sup.logger.Debug("pod released at its time", "pod", r.name(), "at", at)
				r.started = r.sup.now()
				return true
			}
			arm()
		case <-r.stopped:
			r.stopWhilePulling(nil)
			return false
		case <-deadline:
			r.stopWhilePulling(&stopRequest{reason: api.ReasonDeadlineExceeded, message: "Pod was active on the node longer than the specified deadline"})
			return false
		}
	}
}

// stop asks the runner to end the pod. Of several requests the shortest
// grace wins, and the latest reason.
func (r *podRunner) stop(req stopRequest) {
	r.mu.Lock()
	if r.pending == nil {
		r.pending = &req
	} else {
		r.pending.grace = min(r.pending.grace, req.grace)
		if req.reason != "" {
			r.pending.reason, r.pending.message = req.reason, req.message
		}
	}
	r.mu.Unlock()
	select {
	case r.stopped <- struct{}{}:
	default:
	}
}

// containerAlive tells whether the container's process runs now.
func (r *podRunner) containerAlive(container string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.alive[container]
}

func (r *podRunner) setAllDead() {
	r.mu.Lock()
	clear(r.alive)
	clear(r.pids)
	r.mu.Unlock()
}

func (r *podRunner) setAlive(container string, alive bool) {
	r.mu.Lock()
	r.alive[container] = alive
	if !alive {
		delete(r.pids, container)
	}
	r.mu.Unlock()
}

func (r *podRunner) setPID(container string, pid int) {
	r.mu.Lock()
	if r.pids == nil {
		r.pids = map[string]int{}
	}
	r.pids[container] = pid
	r.mu.Unlock()
}

// runningPIDs returns the process of each running container.
func (r *podRunner) runningPIDs() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int, 0, len(r.pids))
	for _, pid := range r.pids {
		out = append(out, pid)
	}
	return out
}

func (r *podRunner) run() {
	r.started = r.sup.now()
	if err := r.prepare(); err != nil {
		// Without the journal entry the pod could run twice after a
		// restart, so it does not run at all.
		r.sup.logger.Error("prepare pod", "pod", r.name(), "err", err)
		now := r.sup.now()
		for _, c := range r.containers {
			c.state = terminatedState(128, reasonStartError, err.Error(), now, now)
			c.done = true
		}
		r.setAllDead()
		final := buildStatus(api.PodFailed, r.sup.hostIP, r.started, r.containers)
		final.Message = err.Error()
		r.finish(final)
		return
	}
	defer r.setAllDead()
	var deadline <-chan time.Time
	var deadlineTimer *time.Timer
	activeFor := func() time.Duration {
		return time.Duration(*r.pod.GetSpec().ActiveDeadlineSeconds)*time.Second - r.sup.now().Sub(r.started)
	}
	if r.pod.GetSpec().ActiveDeadlineSeconds != nil {
		deadlineTimer = time.NewTimer(activeFor())
		defer deadlineTimer.Stop()
		deadline = deadlineTimer.C
	}
	if r.pullImages(deadline) {
		r.prepareHeld()
	}
	if r.stopping || !r.waitRelease(deadline) {
		r.discardPrepared()
		final := buildStatus(api.PodFailed, r.sup.hostIP, r.started, r.containers)
		final.Reason, final.Message = r.stopReason, r.stopMsg
		r.finish(final)
		return
	}
	if r.wasHeld && deadlineTimer != nil {
		// The pod started only now.
		deadlineTimer.Reset(activeFor())
	}
	for i := range r.containers {
		r.startContainer(i)
	}
	killTimer := time.NewTimer(time.Hour)
	killTimer.Stop()
	defer killTimer.Stop()
	ship := time.NewTicker(r.sup.tail.interval)
	defer ship.Stop()
	firstReport := r.sup.firstReport
	if r.wasHeld {
		// A run released at its time is reported soon: a leader that
		// took office since must see that it started
		// (scheduler.ReleaseCronRuns).
		firstReport = min(firstReport, heldReportAfter)
	}
	hold := time.NewTimer(firstReport)
	defer hold.Stop()
	held := hold.C
	for !r.finished() {
		if held == nil {
			r.publish()
		}
		select {
		case <-held:
			held = nil
		case <-ship.C:
			r.rotateLogs()
			r.shipTails()
		case ex := <-r.exits:
			r.exited(ex)
		case i := <-r.restarts:
			if !r.stopping && !r.containers[i].done {
				r.startContainer(i)
			}
		case <-r.stopped:
			r.beginStop(killTimer)
		case <-killTimer.C:
			r.signalAll(syscall.SIGKILL)
		case <-deadline:
			deadline = nil
			r.stop(stopRequest{
				grace:   r.gracePeriod(),
				reason:  api.ReasonDeadlineExceeded,
				message: "Pod was active on the node longer than the specified deadline",
			})
		}
	}
	if r.stopReason == "" {
		// A stop requested as the last process exited still says why
		// the pod ended: a fence's NodeLost must not read as a failure.
		r.mu.Lock()
		if req := r.pending; req != nil {
			r.stopReason, r.stopMsg = req.reason, req.message
		}
		r.mu.Unlock()
	}
	final := buildStatus(podPhase(r.containers), r.sup.hostIP, r.started, r.containers)
	if final.Phase == api.PodFailed {
		if r.stopReason != "" {
			final.Reason = r.stopReason
		}
		if r.stopMsg != "" {
			final.Message = r.stopMsg
		}
	}
	r.finish(final)
}

// prepare gives the pod a fresh directory and journals it before anything
// runs.
func (r *podRunner) prepare() error {
	if err := r.sup.journal.makePodDir(r.rec.name); err != nil {
		return err
	}
	r.rec.mu.Lock()
	r.rec.started = r.started
	r.rec.mu.Unlock()
	select {
	case <-r.released:
	default:
		// A held pod is prepared once its entry is written.
		return r.sup.journal.save(r.rec, true)
	}
	// A pod that may start at once has its processes prepared while
	// its entry is synced: under cgroup v1 that is the traced start and
	// the move into its cgroup, milliseconds on a busy machine, which
	// would otherwise follow the fsync. A prepared process runs no
	// instruction before it begins, so not before the entry is
	// durable, and it dies with the agent.
	saved := make(chan error, 1)
	go func() { saved <- r.sup.journal.save(r.rec, true) }()
	prepared := r.prepareRuns()
	if err := <-saved; err != nil {
		r.discardPrepared()
		return err
	}
	for _, c := range prepared {
		r.journalProcess(c.spec.GetName(), c.prepared.ID())
	}
	return nil
}

func (r *podRunner) finished() bool {
	for _, c := range r.containers {
		if !c.done {
			return false
		}
	}
	return true
}

// finish journals the final status, then hands it to the reporter.
func (r *podRunner) finish(final *api.PodStatus) {
	r.rec.mu.Lock()
	r.rec.final = final
	r.rec.mu.Unlock()
	if err := r.sup.journal.save(r.rec, true); err != nil {
		r.sup.logger.Error("journal final status", "pod", r.name(), "err", err)
	}
	r.sup.runnerDone(r)
	r.sup.reportTails(r.rec.uid, r.name(), final, r.tails(true))
}

// rotateLogs keeps the running containers' logs under the agent's
// maximum size (see rotateLog).
func (r *podRunner) rotateLogs() {
	for _, c := range r.containers {
		if !c.running() {
			continue
		}
		name := c.spec.GetName()
		r.logMu.Lock()
		rotated, err := rotateLog(logPath(r.dir, name, false), r.sup.logMax.size, r.sup.logMax.files)
		if rotated {
			r.rotations[name]++
		}
		r.logMu.Unlock()
		if err != nil {
			r.sup.logger.Warn("rotate container log", "pod", r.name(), "container", c.spec.GetName(), "err", err)
		}
	}
}

// shipTails sends the servers the tails of the logs that grew, with the
// pod's current status, so a node that dies leaves its pods' last output
// behind.
func (r *podRunner) shipTails() {
	if r.published == nil {
		return
	}
	if tails := r.tails(false); len(tails) > 0 {
		r.sup.reportTails(r.rec.uid, r.name(), r.published, tails)
	}
}

// publish reports the pod's status if it changed since the last report.
func (r *podRunner) publish() { r.publishPhase(api.PodRunning) }

func (r *podRunner) publishPhase(phase string) {
	st := buildStatus(phase, r.sup.hostIP, r.started, r.containers)
	if proto.Equal(st, r.published) && len(r.events) == 0 {
		return
	}
	r.published = st
	r.sup.report(r.rec.uid, r.name(), st, r.events...)
	r.events = nil
}

// event queues an event about the pod, sent with its next status report.
func (r *podRunner) event(typ, reason, msg string) {
	r.events = append(r.events, &api.Event{Type: typ, Reason: reason, Message: msg, LastTimestamp: timestamppb.New(r.sup.now())})
}

func (r *podRunner) gracePeriod() time.Duration {
	if g := r.pod.GetSpec().TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return defaultGracePeriod
}

func (r *podRunner) startContainer(i int) {
	c := r.containers[i]
	now := r.sup.now()
	if c.state != nil {
		// A restart in place: the failed run is the last state.
		c.restarts++
		r.sup.metrics.ContainerRestarted()
	}
	start := time.Now()
	proc, err := r.launch(c)
	r.sup.metrics.ContainerStarted(time.Since(start), err)
	if err != nil {
		r.sup.logger.Warn("start container", "pod", r.name(), "container", c.spec.GetName(), "err", err)
		c.state = terminatedState(128, reasonStartError, err.Error(), now, now)
		r.setAlive(c.spec.GetName(), false)
		r.afterRun(i, 128, 0)
		return
	}
	c.proc = proc
	c.startedAt = now
	c.state = &api.ContainerState{Running: &api.ContainerStateRunning{StartedAt: timestamppb.New(now)}}
	r.setAlive(c.spec.GetName(), true)
	r.setPID(c.spec.GetName(), proc.PID())
	r.journalProcess(c.spec.GetName(), proc.ID())
	go func() {
		code, err := proc.Wait()
		r.exits <- containerExit{index: i, code: code, err: err, at: time.Now()}
	}()
	if c.restarts > 0 {
		// The run before is now the previous log: ship its end with the
		// status that reports the restart, so the servers hold it for
		// logs --previous as soon as they know of the restart.
		r.shipTails()
	}
	if r.stopping {
		// A stop arrived while the process was starting.
		r.signal(c, syscall.SIGTERM)
	}
}

// launch opens the container's log and starts its process, or begins
// the run prepared for it.
func (r *podRunner) launch(c *containerRun) (Process, error) {
	if pp := c.prepared; pp != nil {
		c.prepared = nil
		return pp.Begin()
	}
	var proc Process
	err := r.withSpec(c, func(spec ProcessSpec) (err error) {
		proc, err = r.sup.runtime.Start(context.Background(), spec)
		return err
	})
	return proc, err
}

// prepareHeld makes the first run of each container ready while the pod
// is held, where the runtime can (Preparer), so that its release costs
// little more than letting the processes go.
func (r *podRunner) prepareHeld() {
	select {
	case <-r.released:
		return
	default:
	}
	for _, c := range r.prepareRuns() {
		r.journalProcess(c.spec.GetName(), c.prepared.ID())
	}
}

// prepareRuns prepares the first run of each container not prepared yet,
// where the runtime can (Preparer), and returns the containers it
// prepared; their processes are not journaled yet. A container that could
// not be prepared starts the usual way, which reports any error.
func (r *podRunner) prepareRuns() []*containerRun {
	p, ok := r.sup.runtime.(Preparer)
	if !ok {
		return nil
	}
	var prepared []*containerRun
	for _, c := range r.containers {
		if c.prepared != nil || c.state != nil {
			continue
		}
		var pp Prepared
		err := r.withSpec(c, func(spec ProcessSpec) (err error) {
			pp, err = p.Prepare(context.Background(), spec)
			return err
		})
		if err != nil {
			r.sup.logger.Debug("prepare container", "pod", r.name(), "container", c.spec.GetName(), "err", err)
			continue
		}
		if pp == nil {
			break
		}
		c.prepared = pp
		prepared = append(prepared, c)
	}
	return prepared
}

// journalProcess records the container's process in the journal, so that
// an agent restarted after a crash finds and kills it. A prepared run that
// begins keeps the ID it was journaled with: nothing is written again.
func (r *podRunner) journalProcess(container, id string) {
	r.rec.mu.Lock()
	if r.rec.processes[container] == id {
		r.rec.mu.Unlock()
		return
	}
	if r.rec.processes == nil {
		r.rec.processes = map[string]string{}
	}
	r.rec.processes[container] = id
	r.rec.mu.Unlock()
	if err := r.sup.journal.save(r.rec, false); err != nil {
		r.sup.logger.Error("journal process", "pod", r.name(), "err", err)
	}
}

// discardPrepared ends every prepared run unstarted.
func (r *podRunner) discardPrepared() {
	for _, c := range r.containers {
		if c.prepared != nil {
			c.prepared.Discard()
			c.prepared = nil
		}
	}
}

// withSpec opens the container's log and calls start with the ProcessSpec
// of its next run; the log's handle is closed once start returns.
func (r *podRunner) withSpec(c *containerRun, start func(ProcessSpec) error) error {
	logFile, err := openContainerLog(r.dir, c.spec.GetName(), c.state != nil)
	if err != nil {
		return err
	}
	defer logFile.Close()
	dir := c.spec.GetWorkingDir()
	if dir == "" {
		dir = filepath.Join(r.dir, workDir)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create working directory: %w", err)
		}
	}
	env, argv, err := containerEnv(r.pod, c.spec, envContext{node: r.sup.node, hostIP: r.sup.hostIP, config: r.config})
	if err != nil {
		return err
	}
	volumes, err := r.volumes()
	if err != nil {
		return err
	}
	return start(ProcessSpec{
		Command: argv, Env: env, Dir: dir, Stdout: logFile, Container: r.effective(c.spec), Labels: r.labels(),
		RuntimeClass:       api.PodRuntime(r.pod),
		SupplementalGroups: r.pod.GetSpec().GetSecurityContext().GetSupplementalGroups(),
		Volumes:            volumes,
	})
}

// volumes gives each emptyDir volume a directory in the pod's directory,
// writable by any user as Kubernetes makes it, and each configMap or
// secret volume a directory holding its files, mounted read-only; both
// are removed with the pod.
func (r *podRunner) volumes() ([]Volume, error) {
	var out []Volume
	for _, v := range r.pod.GetSpec().GetVolumes() {
		if hp := v.GetHostPath(); hp != nil {
			out = append(out, Volume{Name: v.GetName(), Path: hp.GetPath(), HostPath: true})
			continue
		}
		if v.GetConfigMap() != nil || v.GetSecret() != nil {
			dir := filepath.Join(r.dir, "volumes", v.GetName())
			if err := writeProjected(dir, r.config.projectedFiles(r.pod, v)); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.GetName(), err)
			}
			out = append(out, Volume{Name: v.GetName(), Path: dir, ReadOnly: true})
			continue
		}
		dir := filepath.Join(r.dir, "volumes", v.GetName())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create emptyDir volume %s: %w", v.GetName(), err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			return nil, fmt.Errorf("create emptyDir volume %s: %w", v.GetName(), err)
		}
		out = append(out, Volume{Name: v.GetName(), Path: dir})
	}
	return out, nil
}

// labels name the pod, its Job and uid on what the runtime runs.
func (r *podRunner) labels() map[string]string {
	meta := r.pod.GetMetadata()
	return map[string]string{
		LabelPod: meta.GetName(),
		LabelJob: meta.GetLabels()[api.LabelJobName],
		LabelUID: meta.GetUid(),
	}
}

// effective is the container with the pod's securityContext filled in
// where the container's own says nothing, as kubelet applies them.
func (r *podRunner) effective(c *api.Container) *api.Container {
	psc := r.pod.GetSpec().GetSecurityContext()
	if psc == nil {
		return c
	}
	out := proto.CloneOf(c)
	if out.SecurityContext == nil {
		out.SecurityContext = &api.SecurityContext{}
	}
	sc := out.SecurityContext
	if sc.RunAsUser == nil {
		sc.RunAsUser = psc.RunAsUser
	}
	if sc.RunAsGroup == nil {
		sc.RunAsGroup = psc.RunAsGroup
	}
	if sc.RunAsNonRoot == nil {
		sc.RunAsNonRoot = psc.RunAsNonRoot
	}
	return out
}

// Kubelet's waiting reasons of a container that cannot start yet.
const (
	reasonErrImagePull     = "ErrImagePull"
	reasonImagePullBackOff = "ImagePullBackOff"
)

// pullImages fetches the containers' images before the first start, as
// their runtime does (only container runtimes pull), and checks what can
// be checked only against the image (runAsNonRoot). A pull that fails
// leaves the pod Pending, its container waiting with ErrImagePull, then
// ImagePullBackOff; a check that fails, with CreateContainerConfigError.
// Either is tried again after a back-off that doubles from the agent's
// restart back-off up to five minutes, and is not a failure of the pod.
// It returns false when the pod was stopped or reached its deadline while
// waiting: r.stopReason and r.stopMsg then say why.
func (r *podRunner) pullImages(deadline <-chan time.Time) bool {
	puller, ok := r.sup.runtime.(ImagePuller)
	if !ok {
		return true
	}
	for _, c := range r.containers {
		var backoff time.Duration
		image := c.spec.GetImage()
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithCancel(context.Background())
			result := make(chan pullResult, 1)
			spec := ProcessSpec{Container: r.effective(c.spec), RuntimeClass: api.PodRuntime(r.pod), Labels: r.labels()}
			go func() {
				w, err := puller.PullImage(ctx, spec)
				result <- pullResult{w, err}
			}()
			var res pullResult
			if !r.waitOrStop(result, &res, nil, deadline, cancel) {
				return false
			}
			cancel()
			if res.warning != "" {
				r.event(api.EventTypeWarning, "Pulled", res.warning)
			}
			var reason string
			switch {
			case res.err == nil:
			case errors.Is(res.err, ErrImagePull):
				reason = reasonErrImagePull
				if attempt > 0 {
					reason = reasonImagePullBackOff
				}
				r.event(api.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %v", image, res.err))
				r.event(api.EventTypeNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", image))
			case errors.Is(res.err, ErrCreateContainerConfig):
				reason = reasonConfigError
				r.event(api.EventTypeWarning, "Failed", "Error: "+res.err.Error())
			}
			if reason == "" {
				// Start reports anything else.
				break
			}
			backoff = min(max(2*backoff, r.sup.restartBackoff), maxRestartBackoff)
			r.sup.logger.Info("container cannot start yet", "pod", r.name(), "container", c.spec.GetName(), "image", image, "reason", reason, "retry_in", backoff, "err", res.err)
			c.state = &api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: reason, Message: res.err.Error()}}
			r.publishPhase(api.PodPending)
			t := time.NewTimer(backoff)
			ok := r.waitOrStop(nil, nil, t.C, deadline, func() {})
			t.Stop()
			if !ok {
				return false
			}
		}
		c.state = nil
	}
	return true
}

type pullResult struct {
	warning string
	err     error
}

// waitOrStop waits for a pull's result (stored in *into) or for timer,
// whichever comes; when a stop request or the deadline comes first it ends
// the pod instead (after cancel) and returns false.
func (r *podRunner) waitOrStop(result <-chan pullResult, into *pullResult, timer, deadline <-chan time.Time, cancel func()) bool {
	select {
	case v := <-result:
		*into = v
		return true
	case <-timer:
		return true
	case <-r.stopped:
		cancel()
		r.stopWhilePulling(nil)
	case <-deadline:
		cancel()
		r.stopWhilePulling(&stopRequest{reason: api.ReasonDeadlineExceeded, message: "Pod was active on the node longer than the specified deadline"})
	}
	return false
}

// stopWhilePulling ends a pod none of whose containers started: each keeps
// the state it waits in, or shows that it never started.
func (r *podRunner) stopWhilePulling(req *stopRequest) {
	r.mu.Lock()
	if req == nil {
		req = r.pending
	}
	r.pending = nil
	r.mu.Unlock()
	if req != nil {
		r.stopReason, r.stopMsg = req.reason, req.message
	}
	r.stopping = true
	for _, c := range r.containers {
		if c.state == nil {
			c.state = &api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: "PodStopped"}}
		}
		c.done = true
	}
}

func (r *podRunner) exited(ex containerExit) {
	c := r.containers[ex.index]
	proc := c.proc
	c.proc = nil
	// The run wrote its output to a log file of its own (a restart keeps
	// the one before as the previous log).
	if fi, err := os.Stat(logPath(r.dir, c.spec.GetName(), false)); err == nil {
		r.sup.metrics.LogWritten(fi.Size())
	}
	r.setAlive(c.spec.GetName(), false)
	if ex.err != nil {
		r.sup.logger.Warn("wait for container", "pod", r.name(), "container", c.spec.GetName(), "err", ex.err)
	}
	reason := reasonError
	switch {
	case ex.code == 0:
		reason = reasonCompleted
	case r.killed && ex.code == 128+int(syscall.SIGKILL):
		reason = reasonKilled
	case lostToFence(ex.code, r.killed, r.sup.lapses.lapsedAt(ex.at)):
		// The agent-guard killed it when the lease ran out: the pod
		// ends, lost with the node, and is not restarted here.
		reason = reasonKilled
		r.stopping = true
		if r.stopReason == "" {
			r.stopReason = api.ReasonNodeLost
			r.stopMsg = fmt.Sprintf("node %s lost contact with the servers: the pod was killed when its lease ran out", r.sup.node)
		}
	}
	if oom, ok := proc.(interface{ OOMKilled() bool }); ok && oom.OOMKilled() {
		reason = reasonOOMKilled
		r.sup.metrics.ContainerOOMKilled()
	}
	c.state = terminatedState(ex.code, reason, "", c.startedAt, r.sup.now())
	if r.stopping && ex.code > 128 {
		c.state.Terminated.Signal = int32(ex.code - 128)
	}
	r.afterRun(ex.index, ex.code, r.sup.now().Sub(c.startedAt))
}

// afterRun decides what follows a container's run that ended with code
// after running for ran: done, or a restart in place after a back-off.
func (r *podRunner) afterRun(i, code int, ran time.Duration) {
	c := r.containers[i]
	if code == 0 || r.stopping || r.pod.GetSpec().GetRestartPolicy() != api.RestartPolicyOnFailure {
		c.done = true
		return
	}
	delay := c.nextBackoff(r.sup.restartBackoff, ran)
	c.lastState = c.state
	c.state = &api.ContainerState{Waiting: &api.ContainerStateWaiting{
		Reason:  reasonCrashLoopBackOff,
		Message: backoffMessage(delay, c.spec.GetName(), r.name()),
	}}
	c.restart = time.AfterFunc(delay, func() { r.restarts <- i })
}

// beginStop applies the pending stop request: pending restarts are
// dropped, running processes get SIGTERM, and SIGKILL follows after the
// grace period (at once for zero).
func (r *podRunner) beginStop(killTimer *time.Timer) {
	r.mu.Lock()
	req := r.pending
	r.pending = nil
	r.mu.Unlock()
	if req == nil {
		return
	}
	if req.reason != "" || r.stopReason == "" {
		r.stopReason, r.stopMsg = req.reason, req.message
	}
	first := !r.stopping
	r.stopping = true
	for _, c := range r.containers {
		if !c.done && !c.running() {
			// It was waiting to restart: its last run is its end.
			if c.restart != nil {
				c.restart.Stop()
			}
			c.state, c.lastState = c.lastState, nil
			c.done = true
		}
	}
	now := r.sup.now()
	killAt := now.Add(req.grace)
	if req.grace <= 0 {
		r.signalAll(syscall.SIGKILL)
		return
	}
	if first {
		r.signalAll(syscall.SIGTERM)
	}
	if r.killAt.IsZero() || killAt.Before(r.killAt) {
		r.killAt = killAt
		killTimer.Reset(req.grace)
	}
}

func (r *podRunner) signalAll(sig syscall.Signal) {
	if sig == syscall.SIGKILL {
		r.killed = true
	}
	for _, c := range r.containers {
		if c.running() {
			r.signal(c, sig)
		}
	}
}

func (r *podRunner) signal(c *containerRun, sig syscall.Signal) {
	if err := c.proc.Signal(sig); err != nil {
		r.sup.logger.Warn("signal container", "pod", r.name(), "container", c.spec.GetName(), "err", err)
	}
}

// writeProjected writes a configMap or secret volume's files into dir,
// afresh: a restarted container sees the contents of its own start.
func writeProjected(dir string, files []projectedFile) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.content, 0o600); err != nil {
			return err
		}
		// The mode as given, whatever the agent's umask.
		if err := os.Chmod(p, os.FileMode(f.mode)&os.ModePerm); err != nil {
			return err
		}
	}
	return nil
}
