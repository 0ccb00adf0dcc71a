package fsm

import (
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/jobcluster/jobcluster/api"
)

// Observer is told of the transitions the FSM applies, so that a server
// can count them (metrics). Every replica calls it once per transition of
// each entry it applies, with the entry's log index; entries replayed
// after a restart are told again, and those covered by a restored
// snapshot never. Its methods run inside Apply, on the applying
// goroutine: they must be quick, must not modify what they are handed and
// must not call back into the FSM. Observing leaves the state untouched,
// so Apply stays deterministic.
type Observer interface {
	// JobFinished: the Job reached a final condition (Complete or Failed).
	JobFinished(index uint64, job *api.Job)
	// PodFinished: the pod reached Succeeded or Failed.
	PodFinished(index uint64, pod *api.Pod)
	// PodsCreated: n pods were created for Jobs.
	PodsCreated(index uint64, n int)
	// CronDecided: a CronJob's decision for one scheduled time was
	// recorded; created says whether it created its Job.
	CronDecided(index uint64, d *api.CronDecision, created bool)
	// PodStarted: a container of the pod started for the first time (a
	// status reports it running or ended with a start time); job is its
	// Job, nil when gone.
	PodStarted(index uint64, pod *api.Pod, job *api.Job)
}

// SetObserver makes o observe every entry applied from now on. Call it
// before Raft starts applying.
func (f *FSM) SetObserver(o Observer) { f.obs = o }

// Counts are the stored Jobs and pods by state, kept up to date as
// entries are applied, so that reading them costs nothing per object.
type Counts struct {
	ActiveJobs, SuspendedJobs, FinishedJobs int
	PendingPods, RunningPods, FinishedPods  int
	// JobStates counts the Jobs by api.JobState, as the web UI sorts
	// them.
	JobStates [api.JobStateCount]int
}

// Counts returns how many Jobs and pods the state holds, by state.
func (f *FSM) Counts() Counts {
	_, c := f.IndexedCounts()
	return c
}

// IndexedCounts is Counts with the log index of the state they count.
func (f *FSM) IndexedCounts() (uint64, Counts) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.view.RLock()
	defer f.view.RUnlock()
	return f.applied.Load(), f.counts
}

// add counts a stored object (frozen or not) of table delta times.
func (c *Counts) add(table string, obj any, delta int) {
	switch table {
	case tableJobs:
		state := jobStateOf(obj)
		c.JobStates[state] += delta
		switch {
		case state == api.JobStateComplete || state == api.JobStateFailed: // frozen Jobs among them
			c.FinishedJobs += delta
		case obj.(*api.Job).GetSpec().GetSuspend():
			c.SuspendedJobs += delta
		default:
			c.ActiveJobs += delta
		}
	case tablePods:
		p, ok := obj.(*api.Pod)
		switch {
		case !ok || api.IsPodTerminal(p): // frozen pods are finished
			c.FinishedPods += delta
		case p.GetStatus().GetPhase() == api.PodRunning:
			c.RunningPods += delta
		default:
			c.PendingPods += delta
		}
	}
}

// jobStateOf is the state of a stored Job, frozen or not: a frozen Job
// is finished, and says whether it failed.
func jobStateOf(obj any) api.JobState {
	if f, ok := obj.(*frozen); ok {
		if f.failed {
			return api.JobStateFailed
		}
		return api.JobStateComplete
	}
	return api.JobStateOf(obj.(*api.Job))
}

// merge adds what a transaction changed to c.
func (c *Counts) merge(changes memdb.Changes) {
	for _, ch := range changes {
		if ch.Table != tableJobs && ch.Table != tablePods {
			continue
		}
		if ch.Before != nil {
			c.add(ch.Table, ch.Before, -1)
		}
		if ch.After != nil {
			c.add(ch.Table, ch.After, 1)
		}
	}
}

// countAll counts a whole store, as after a restore. Frozen objects are
// not decoded.
func countAll(db *memdb.MemDB) Counts {
	var c Counts
	txn := db.Txn(false)
	for _, table := range []string{tableJobs, tablePods} {
		it, err := txn.Get(table, "id")
		if err != nil {
			panic(err)
		}
		for o := it.Next(); o != nil; o = it.Next() {
			c.add(table, o, 1)
		}
	}
	return c
}

func (w *writer) jobFinished(job *api.Job) {
	if w.obs != nil {
		w.obs.JobFinished(w.index, job)
	}
}

func (w *writer) podFinished(pod *api.Pod) {
	if w.obs != nil {
		w.obs.PodFinished(w.index, pod)
	}
}

func (w *writer) podStarted(before, after *api.Pod) {
	if w.obs == nil || containerStarted(before) || !containerStarted(after) {
		return
	}
	job := w.job(after.GetMetadata().GetNamespace(), after.GetMetadata().GetLabels()[api.LabelJobName])
	w.obs.PodStarted(w.index, after, job)
}

// containerStarted reports whether any container of pod has started.
func containerStarted(pod *api.Pod) bool {
	for _, cs := range pod.GetStatus().GetContainerStatuses() {
		if cs.GetState().GetRunning() != nil || cs.GetState().GetTerminated().GetStartedAt() != nil || cs.GetLastState().GetTerminated() != nil {
			return true
		}
	}
	return false
}

// StartedAt is when the pod's first container started, from its
// container statuses; zero when none has.
func StartedAt(pod *api.Pod) time.Time {
	var first time.Time
	for _, cs := range pod.GetStatus().GetContainerStatuses() {
		for _, st := range []*api.ContainerState{cs.GetState(), cs.GetLastState()} {
			var t time.Time
			switch {
			case st.GetRunning().GetStartedAt() != nil:
				t = st.GetRunning().GetStartedAt().AsTime()
			case st.GetTerminated().GetStartedAt() != nil:
				t = st.GetTerminated().GetStartedAt().AsTime()
			default:
				continue
			}
			if first.IsZero() || t.Before(first) {
				first = t
			}
		}
	}
	return first
}

func (w *writer) podsCreated(n int) {
	if w.obs != nil && n > 0 {
		w.obs.PodsCreated(w.index, n)
	}
}

func (w *writer) cronDecided(d *api.CronDecision, created bool) {
	if w.obs != nil {
		w.obs.CronDecided(w.index, d, created)
	}
}
