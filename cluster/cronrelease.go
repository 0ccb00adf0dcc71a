package cluster

import (
	"slices"
	"sync"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
)

// DefaultCronLead is how long before its scheduled time a CronJob's run
// is decided, its Job and pods created and bound, so that at the time
// only the leader's word to the agent stands between it and its start.
const DefaultCronLead = 500 * time.Millisecond

// cronReleaseLead is how long before its time the leader releases a run
// decided ahead: long enough for its word to reach the agents first, which
// then start the pods on their own clocks at the time. The run's fate is
// settled then (scheduler.ReleaseCronRuns).
const cronReleaseLead = 10 * time.Millisecond

// releases holds, on the leader, the Jobs decided ahead of their time
// (api.AnnotationNotBefore) that were released: their pods start at that
// time. It lives in memory: a new leader settles each held run again at
// its first pass (scheduler.ReleaseCronRuns), and a run it released in an
// earlier term stays released.
type releases struct {
	mu   sync.Mutex
	jobs map[string]releasedRun // by uid
	// changed wakes the pod watches when a run is released or its time
	// comes.
	changed *broadcast
}

// releasedRun is a released Job's time, and whether it came.
type releasedRun struct {
	at  time.Time
	due bool
}

func newReleases() *releases {
	return &releases{jobs: map[string]releasedRun{}, changed: newBroadcast()}
}

func (r *releases) has(uid string) bool {
	released, _ := r.state(uid)
	return released
}

// state tells whether a Job was released, and whether its time came.
func (r *releases) state(uid string) (released, due bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	run, ok := r.jobs[uid]
	return ok, run.due
}

// release marks the Jobs released at now, each with its time (by uid),
// and wakes the watches.
func (r *releases) release(now time.Time, runs map[string]time.Time) {
	if len(runs) == 0 {
		return
	}
	r.mu.Lock()
	for uid, at := range runs {
		r.jobs[uid] = releasedRun{at: at, due: !at.After(now)}
	}
	r.mu.Unlock()
	r.changed.notify()
}

// tick marks due the released Jobs whose time came by now, waking the
// watches if any did, and returns the earliest time still to come.
func (r *releases) tick(now time.Time) (next time.Time) {
	r.mu.Lock()
	came := false
	for uid, run := range r.jobs {
		switch {
		case run.due:
		case !run.at.After(now):
			run.due = true
			r.jobs[uid] = run
			came = true
		case next.IsZero() || run.at.Before(next):
			next = run.at
		}
	}
	r.mu.Unlock()
	if came {
		r.changed.notify()
	}
	return next
}

// keepOnly forgets every Job not in live: finished, deleted, or released
// by an earlier term.
func (r *releases) keepOnly(live map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for uid := range r.jobs {
		if !live[uid] {
			delete(r.jobs, uid)
		}
	}
}

// heldPods lists the uids of the pods among pods that must not start
// yet: those of a CronJob's Job decided ahead of its time, until the
// leader released it, and until its time for an agent that cannot start
// a pod at its time itself (timedOK false). Only the leader releases, so
// on a follower every such pod is held until its agent moves its watch to
// the leader, which it does at its next heartbeat. timed lists those
// released, which an agent that can starts at their time (at once if it
// came). On any other Job the annotation means nothing.
func (s *Server) heldPods(st *fsm.State, pods []*api.Pod, leader, timedOK bool) (held, timed []string) {
	type fate struct{ hold, timed bool }
	jobs := map[string]fate{} // by the Job's uid
	for _, p := range pods {
		meta := p.GetMetadata()
		if _, ok := meta.GetAnnotations()[api.AnnotationNotBefore]; !ok {
			continue
		}
		owner := controllerOf(meta, api.JobResource.Kind)
		if owner == nil {
			continue
		}
		f, seen := jobs[owner.GetUid()]
		if !seen {
			job := st.Job(meta.GetNamespace(), owner.GetName())
			if job != nil && job.GetMetadata().GetUid() == owner.GetUid() &&
				controllerOf(job.GetMetadata(), api.CronJobResource.Kind) != nil {
				released, due := s.released.state(owner.GetUid())
				switch {
				case !leader || !released:
					f.hold = true
				case timedOK:
					// Also once its time came: the agent starts it
					// at once then, and a word at the time would only
					// compete with the start.
					f.timed = true
				case !due:
					f.hold = true
				}
			}
			jobs[owner.GetUid()] = f
		}
		if f.hold {
			held = append(held, meta.GetUid())
		}
		if f.timed {
			timed = append(timed, meta.GetUid())
		}
	}
	return held, timed
}

// withoutPods is pods without those named (by uid) in uids.
func withoutPods(pods []*api.Pod, uids []string) []*api.Pod {
	out := make([]*api.Pod, 0, len(pods))
	for _, p := range pods {
		if !slices.Contains(uids, p.GetMetadata().GetUid()) {
			out = append(out, p)
		}
	}
	return out
}

// controllerOf is meta's controlling owner of the given kind, or nil.
func controllerOf(meta *api.ObjectMeta, kind string) *api.OwnerReference {
	for _, ref := range meta.GetOwnerReferences() {
		if ref.GetController() && ref.GetKind() == kind {
			return ref
		}
	}
	return nil
}
