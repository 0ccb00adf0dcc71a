package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/metrics"
)

// statusSink receives pod status changes. Report must not block for long;
// for one pod the last status handed in is the one that counts.
type statusSink interface {
	Report(u *api.PodStatusUpdate)
}

// supervisorConfig configures a supervisor.
type supervisorConfig struct {
	Node           string
	DataDir        string
	HostIP         string
	Runtime        Runtime
	Sink           statusSink
	Logger         *slog.Logger
	RestartBackoff time.Duration
	// Metrics counts container starts and journal syncs; nil counts
	// nothing.
	Metrics *metrics.Agent
	// ForgetAfter is how long a reported pod must have been absent from
	// the desired set before its record is dropped.
	ForgetAfter time.Duration
	// LogMaxSize and LogMaxFiles bound each container's log, checked every
	// ShipInterval; zero means DefaultLogMaxSize and DefaultLogMaxFiles.
	LogMaxSize  int64
	LogMaxFiles int
	// TailBytes, TailLines and ShipInterval bound the ends of logs shipped
	// to the servers; zero means DefaultTailBytes and so on.
	TailBytes, TailLines int
	ShipInterval         time.Duration
	// FirstReportAfter holds a pod's first Running report until it has
	// run this long; zero means DefaultFirstReportAfter.
	FirstReportAfter time.Duration
	Now              func() time.Time
}

// DefaultFirstReportAfter is how long a pod runs before the servers hear
// it is Running. A pod that ends sooner is reported once, as it ended.
// Every report is a Raft entry and, through its Job's ready count,
// usually a second one: a pod of a few milliseconds thus costs every
// server two entries fewer, which is CPU and disk syncs the next pods'
// starts no longer wait behind. Kubernetes' kubelet, too, notices a
// start only at its next relist of the containers, up to a second later.
const DefaultFirstReportAfter = 50 * time.Millisecond

// supervisor runs the pods the servers bind to this node. Sync hands it the
// desired set; it starts each pod UID at most once, ever (the journal
// remembers across restarts), and stops pods that are marked for deletion
// or no longer desired.
type supervisor struct {
	node   string
	hostIP string
	tail   tailPolicy
	logMax struct {
		size  int64
		files int
	}
	runtime        Runtime
	sink           statusSink
	logger         *slog.Logger
	restartBackoff time.Duration
	forgetAfter    time.Duration
	firstReport    time.Duration
	metrics        *metrics.Agent
	now            func() time.Time
	journal        *journal
	runners        sync.WaitGroup

	// departed has a value when a desired set lacked pods the one
	// before held, capacity 1: finished pods may be ready to clean up.
	departed chan struct{}

	mu          sync.Mutex
	lastCollect time.Time
	wanted      map[string]bool       // UIDs of the latest desired set; nil before the first
	records     map[string]*podRecord // by UID
	byName      map[string]*podRecord
	active      map[string]*podRunner // by UID
	fenced      bool
	// lapses tells when the lease ran out (see lostToFence).
	lapses leaseLapses
	// config is the ConfigMaps and Secrets of the latest pod set; waiting
	// holds, by UID, what each pod held back for want of them was last
	// reported to lack.
	config  podConfig
	waiting map[string]string
	// held are the pods (by uid) of the latest pod set that must not
	// start yet: they are prepared, then wait for a set that no longer
	// holds them (api.PodSet.held).
	held map[string]bool
	// timed are the pods (by uid) of the latest pod set released to
	// start at their time (api.PodSet.timed).
	timed map[string]bool
}

// newSupervisor loads the journal and settles what an earlier run of the
// agent left: processes of unfinished pods are killed and those pods
// reported Failed (NodeLost); final statuses not yet acknowledged are
// reported again.
func newSupervisor(cfg supervisorConfig) (*supervisor, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RestartBackoff <= 0 {
		cfg.RestartBackoff = 10 * time.Second
	}
	if cfg.ForgetAfter <= 0 {
		cfg.ForgetAfter = time.Minute
	}
	if cfg.FirstReportAfter <= 0 {
		cfg.FirstReportAfter = DefaultFirstReportAfter
	}
	s := &supervisor{
		node:           cfg.Node,
		hostIP:         cfg.HostIP,
		tail:           tailPolicy{bytes: cfg.TailBytes, lines: cfg.TailLines, interval: cfg.ShipInterval}.withDefaults(),
		runtime:        cfg.Runtime,
		sink:           cfg.Sink,
		logger:         cfg.Logger,
		restartBackoff: cfg.RestartBackoff,
		forgetAfter:    cfg.ForgetAfter,
		firstReport:    cfg.FirstReportAfter,
		now:            cfg.Now,
		metrics:        cfg.Metrics,
		journal:        &journal{dir: filepath.Join(cfg.DataDir, "pods"), logger: cfg.Logger, metrics: cfg.Metrics},
		records:        map[string]*podRecord{},
		byName:         map[string]*podRecord{},
		active:         map[string]*podRunner{},
		departed:       make(chan struct{}, 1),
	}
	s.logMax.size, s.logMax.files = cfg.LogMaxSize, cfg.LogMaxFiles
	if s.logMax.size <= 0 {
		s.logMax.size = DefaultLogMaxSize
	}
	if s.logMax.files <= 0 {
		s.logMax.files = DefaultLogMaxFiles
	}
	if err := os.MkdirAll(s.journal.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create pods directory: %w", err)
	}
	records, err := s.journal.load()
	if err != nil {
		// A record we cannot read names a pod we may have run; there is
		// nothing better to do than to say so.
		s.logger.Error("load journal", "err", err)
	}
	for _, rec := range records {
		s.recover(rec)
	}
	return s, nil
}

func (s *supervisor) recover(rec *podRecord) {
	if rec.final == nil {
		for container, id := range rec.processes {
			if err := s.runtime.KillOrphan(id); err != nil {
				s.logger.Warn("kill orphaned process", "pod", rec.name, "container", container, "err", err)
			}
		}
		msg := fmt.Sprintf("agent on node %s restarted while the pod was running", s.node)
		rec.final = lostStatus(rec.pod, s.hostIP, rec.started, s.now(), msg)
		if err := s.journal.save(rec, true); err != nil {
			s.logger.Error("journal final status", "pod", rec.name, "err", err)
		}
	}
	s.records[rec.uid] = rec
	s.byName[rec.name] = rec
	if !rec.reported {
		s.report(rec.uid, rec.name, rec.final)
	}
}

func (s *supervisor) report(uid, name string, st *api.PodStatus, events ...*api.Event) {
	s.sink.Report(&api.PodStatusUpdate{Name: name, Uid: uid, Node: s.node, Status: st, Events: events})
}

// reportTails reports a status with the ends of the pod's logs.
func (s *supervisor) reportTails(uid, name string, st *api.PodStatus, tails []*api.ContainerLogTail) {
	s.sink.Report(&api.PodStatusUpdate{Name: name, Uid: uid, Node: s.node, Status: st, LogTails: tails})
}

// SyncSet is Sync of a pod set from the servers, with the ConfigMaps and
// Secrets its pods use.
func (s *supervisor) SyncSet(set *api.PodSet) {
	s.mu.Lock()
	s.config = newPodConfig(set)
	s.held = make(map[string]bool, len(set.GetHeld()))
	for _, uid := range set.GetHeld() {
		s.held[uid] = true
	}
	s.timed = make(map[string]bool, len(set.GetTimed()))
	for _, uid := range set.GetTimed() {
		s.timed[uid] = true
	}
	s.mu.Unlock()
	s.Sync(set.GetPods())
}

// Sync makes the pods running here match the desired set: every pod bound
// to this node that it still has to run or stop.
func (s *supervisor) Sync(pods []*api.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	wanted := make(map[string]bool, len(pods))
	for _, pod := range pods {
		uid := pod.GetMetadata().GetUid()
		if uid == "" || !safeName(pod.GetMetadata().GetName()) {
			s.logger.Warn("desired pod without a usable name or uid", "pod", pod.GetMetadata().GetName(), "uid", uid)
			continue
		}
		wanted[uid] = true
		deleting := pod.GetMetadata().GetDeletionTimestamp() != nil
		if rec, ok := s.records[uid]; ok {
			rec.absentSince = time.Time{}
			if r, running := s.active[uid]; running && deleting {
				r.stop(stopRequest{grace: r.gracePeriod()})
			} else if running {
				s.releaseOrHold(r)
			}
			continue
		}
		if deleting {
			s.skipDeleted(pod)
			continue
		}
		if s.fenced || !s.freeName(pod) {
			continue
		}
		if msg := s.config.missing(pod); msg != "" {
			s.holdForConfig(pod, msg)
			continue
		}
		delete(s.waiting, uid)
		s.start(pod)
	}
	for uid := range s.waiting {
		if !wanted[uid] {
			delete(s.waiting, uid)
		}
	}
	for uid, r := range s.active {
		if !wanted[uid] {
			r.stop(stopRequest{
				grace:   r.gracePeriod(),
				message: fmt.Sprintf("pod is no longer bound to node %s", s.node),
			})
		}
	}
	for uid := range s.wanted {
		if !wanted[uid] {
			select {
			case s.departed <- struct{}{}:
			default:
			}
			break
		}
	}
	s.wanted = wanted
	s.collect(now)
}

// freeName tells whether the pod's name (its directory) is free, and frees
// it from a finished, reported pod of the same name.
func (s *supervisor) freeName(pod *api.Pod) bool {
	old, ok := s.byName[pod.GetMetadata().GetName()]
	if !ok {
		return true
	}
	_, running := s.active[old.uid]
	old.mu.Lock()
	reported := old.reported
	old.mu.Unlock()
	if running || !reported {
		s.logger.Warn("pod name still in use by an earlier pod", "pod", old.name, "uid", old.uid)
		return false
	}
	s.forget(old)
	return true
}

// holdForConfig keeps a pod from starting while a ConfigMap or Secret it
// needs is missing, reporting it Pending with kubelet's
// CreateContainerConfigError, once per distinct message. The servers send
// the pod set again when that config appears.
func (s *supervisor) holdForConfig(pod *api.Pod, msg string) {
	uid := pod.GetMetadata().GetUid()
	if s.waiting == nil {
		s.waiting = map[string]string{}
	}
	if s.waiting[uid] == msg {
		return
	}
	s.waiting[uid] = msg
	s.logger.Debug("pod waits for its config", "pod", pod.GetMetadata().GetName(), "missing", msg)
	st := &api.PodStatus{Phase: api.PodPending, HostIp: s.hostIP}
	for _, c := range pod.GetSpec().GetContainers() {
		st.ContainerStatuses = append(st.ContainerStatuses, &api.ContainerStatus{
			Name: c.GetName(), Image: c.GetImage(), Started: proto.Bool(false),
			State: &api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: reasonConfigError, Message: msg}},
		})
	}
	s.report(uid, pod.GetMetadata().GetName(), st)
}

// releaseOrHold tells a runner what the latest pod set says of its pod:
// held, released to start at its time, or released. s.mu must be held.
func (s *supervisor) releaseOrHold(r *podRunner) {
	switch uid := r.rec.uid; {
	case s.held[uid]:
		r.hold()
	case s.timed[uid]:
		r.releaseAt()
	default:
		r.release()
	}
}

func (s *supervisor) start(pod *api.Pod) {
	meta := pod.GetMetadata()
	rec := &podRecord{uid: meta.GetUid(), name: meta.GetName(), pod: pod}
	s.records[rec.uid] = rec
	s.byName[rec.name] = rec
	s.journal.claim(rec.name, rec.uid)
	r := newPodRunner(s, rec, pod)
	r.config = s.config
	s.releaseOrHold(r)
	s.active[rec.uid] = r
	s.runners.Add(1)
	s.logger.Debug("start pod", "pod", rec.name)
	go func() {
		defer s.runners.Done()
		r.run()
	}()
}

// skipDeleted settles a pod that is stopped before it ever ran here.
func (s *supervisor) skipDeleted(pod *api.Pod) {
	meta := pod.GetMetadata()
	rec := &podRecord{uid: meta.GetUid(), name: meta.GetName(), pod: pod, final: notStartedStatus(pod, s.hostIP)}
	if _, taken := s.byName[rec.name]; taken {
		// The directory belongs to another pod; a record in memory
		// is enough to report this one.
		s.records[rec.uid] = rec
	} else {
		if err := s.journal.save(rec, false); err != nil {
			s.logger.Error("journal pod", "pod", rec.name, "err", err)
		}
		s.records[rec.uid] = rec
		s.byName[rec.name] = rec
	}
	s.report(rec.uid, rec.name, rec.final)
}

// forgetBatch bounds how many records one look forgets while holding the
// supervisor's lock: each costs a journal line and a directory removal.
const forgetBatch = 500

// collect forgets pods whose final status was acknowledged and that have
// been missing from the desired set for forgetAfter, at most forgetBatch
// of them (tidy forgets the rest). Desired sets can come many times a
// second, so it looks at most once per forgetAfter (or second). s.mu must
// be held.
func (s *supervisor) collect(now time.Time) {
	if now.Sub(s.lastCollect) < min(s.forgetAfter, time.Second) {
		return
	}
	s.lastCollect = now
	s.forgetAbsent(now, forgetBatch)
}

// tidy forgets every pod that collect would, a batch at a time, letting
// Sync and status acknowledgements in between. It does nothing before the
// first desired set: until then no pod is known to be absent from it.
func (s *supervisor) tidy() {
	for {
		s.mu.Lock()
		more := s.wanted != nil && s.forgetAbsent(s.now(), forgetBatch)
		s.mu.Unlock()
		if !more {
			return
		}
	}
}

// forgetAbsent notes since when each finished, reported pod has been
// missing from the desired set and forgets up to limit of those missing
// for forgetAfter. It tells whether more remain to forget. s.mu must be
// held.
func (s *supervisor) forgetAbsent(now time.Time, limit int) bool {
	var due []*podRecord
	for uid, rec := range s.records {
		if !s.settled(uid, rec) {
			continue
		}
		if rec.absentSince.IsZero() {
			rec.absentSince = now
		}
		if now.Sub(rec.absentSince) >= s.forgetAfter {
			due = append(due, rec)
		}
	}
	for _, rec := range due[:min(limit, len(due))] {
		s.forget(rec)
	}
	return len(due) > limit
}

// settled tells whether the pod is done here: not desired, not running,
// and its final status acknowledged by the servers. s.mu must be held.
func (s *supervisor) settled(uid string, rec *podRecord) bool {
	if s.wanted[uid] {
		return false
	}
	if _, running := s.active[uid]; running {
		return false
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.reported
}

// eachSettled calls f with each settled pod whose record holds its
// directory; none before the first desired set. f runs with s.mu held
// and must not call back into s.
func (s *supervisor) eachSettled(f func(name, uid string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wanted == nil {
		return
	}
	for uid, rec := range s.records {
		if s.byName[rec.name] == rec && s.settled(uid, rec) {
			f(rec.name, uid)
		}
	}
}

func (s *supervisor) forget(rec *podRecord) {
	delete(s.records, rec.uid)
	if s.byName[rec.name] == rec {
		delete(s.byName, rec.name)
		if err := s.journal.forget(rec.name); err != nil {
			s.logger.Warn("forget pod", "pod", rec.name, "err", err)
		}
	}
}

// markReported records that the servers acknowledged a pod's final status.
// The lock is held while saving so that the record cannot be forgotten,
// and its directory handed to a new pod of the same name, meanwhile.
func (s *supervisor) markReported(uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[uid]
	if !ok {
		return
	}
	rec.mu.Lock()
	changed := !rec.reported && rec.final != nil
	rec.reported = rec.reported || rec.final != nil
	rec.mu.Unlock()
	if !changed || s.byName[rec.name] != rec {
		return
	}
	if err := s.journal.save(rec, false); err != nil {
		s.logger.Warn("journal reported", "pod", rec.name, "err", err)
	}
}

func (s *supervisor) runnerDone(r *podRunner) {
	s.mu.Lock()
	delete(s.active, r.rec.uid)
	s.mu.Unlock()
}

// fence kills every running pod at once because the node lost its lease;
// until unfence no new pod starts. The pods end Failed with reason
// NodeLost.
func (s *supervisor) fence() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fenced = true
	msg := fmt.Sprintf("node %s lost contact with the servers", s.node)
	for _, r := range s.active {
		r.stop(stopRequest{grace: 0, reason: api.ReasonNodeLost, message: msg})
	}
}

// unfence lets new pods start again once the node holds a lease. Pods
// start from the next desired set: the last one may be from before the
// servers gave up on this node and replaced its pods.
func (s *supervisor) unfence() {
	s.mu.Lock()
	s.fenced = false
	s.mu.Unlock()
}

// shutdown stops every pod because the agent is stopping, giving each at
// most maxGrace, and waits until they have ended or ctx is done.
func (s *supervisor) shutdown(ctx context.Context, maxGrace time.Duration) error {
	s.mu.Lock()
	s.fenced = true
	msg := fmt.Sprintf("agent on node %s shut down while the pod was running", s.node)
	for _, r := range s.active {
		r.stop(stopRequest{grace: min(r.gracePeriod(), maxGrace), reason: api.ReasonNodeLost, message: msg})
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.runners.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for pods to stop: %w", ctx.Err())
	}
}

// lookup returns the record and, while it runs, the runner of the pod
// with that name.
func (s *supervisor) lookup(name string) (*podRecord, *podRunner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.byName[name]
	if !ok {
		return nil, nil
	}
	return rec, s.active[rec.uid]
}

// runningPods counts the pods started and not yet finished.
func (s *supervisor) runningPods() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active)
}

// usagePods lists the running pods and their containers' processes, for
// the usage meter.
func (s *supervisor) usagePods() []podUsageSource {
	s.mu.Lock()
	runners := make([]*podRunner, 0, len(s.active))
	for _, r := range s.active {
		runners = append(runners, r)
	}
	s.mu.Unlock()
	out := make([]podUsageSource, 0, len(runners))
	for _, r := range runners {
		pids := r.runningPIDs()
		if len(pids) == 0 {
			continue
		}
		meta := r.pod.GetMetadata()
		out = append(out, podUsageSource{uid: r.rec.uid, namespace: api.NamespaceOf(meta), name: meta.GetName(), pids: pids})
	}
	return out
}
