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

// releases holds, on the leader, the Jobs decided ahead of their time
// (api.AnnotationNotBefore) whose time came: their pods may start. It
// lives in memory: a new leader settles each held run again at its first
// pass (scheduler.ReleaseCronRuns), and a run it released in an earlier
// term stays released.
type releases struct {
	mu   sync.Mutex
	jobs map[string]bool // by uid
	// changed wakes the pod watches when a run is released.
	changed *broadcast
}

func newReleases() *releases { return &releases{jobs: map[string]bool{}, changed: newBroadcast()} }

func (r *releases) has(uid string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jobs[uid]
}

// release marks the Jobs released and wakes the watches.
func (r *releases) release(uids ...string) {
	if len(uids) == 0 {
		return
	}
	r.mu.Lock()
	for _, uid := range uids {
		r.jobs[uid] = true
	}
	r.mu.Unlock()
	r.changed.notify()
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
// leader released it. Only the leader releases, so on a follower every
// such pod is held until its agent moves its watch to the leader, which
// it does at its next heartbeat. On any other Job the annotation means
// nothing.
func (s *Server) heldPods(st *fsm.State, pods []*api.Pod, leader bool) []string {
	var held []string
	jobs := map[string]bool{} // held, by the Job's uid
	for _, p := range pods {
		meta := p.GetMetadata()
		if _, ok := meta.GetAnnotations()[api.AnnotationNotBefore]; !ok {
			continue
		}
		owner := controllerOf(meta, api.JobResource.Kind)
		if owner == nil {
			continue
		}
		hold, seen := jobs[owner.GetUid()]
		if !seen {
			job := st.Job(meta.GetNamespace(), owner.GetName())
			hold = job != nil && job.GetMetadata().GetUid() == owner.GetUid() &&
				controllerOf(job.GetMetadata(), api.CronJobResource.Kind) != nil &&
				!(leader && s.released.has(owner.GetUid()))
			jobs[owner.GetUid()] = hold
		}
		if hold {
			held = append(held, meta.GetUid())
		}
	}
	return held
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
