package fsm

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/jobcluster/jobcluster/api"
)

// applyCreatePods inserts the pods that still fit their Job. A pod that
// would push the Job past parallelism active or past its completions, or
// whose Job is missing, finishing, suspended or of another uid, is dropped:
// a stale or repeated command can never overshoot.
func (w *writer) applyCreatePods(c *api.CreatePods) error {
	// Each Job's pods are counted once per command, then kept up to date
	// as its pods are inserted: a Job may hold many finished pods.
	counts := map[string]*jobCounts{}
	created := 0
	for _, p := range c.GetPods() {
		if unnamed(p) || w.pod(p.GetMetadata().GetName()) != nil {
			continue
		}
		job := w.job(p.GetMetadata().GetNamespace(), p.GetMetadata().GetLabels()[api.LabelJobName])
		uid := job.GetMetadata().GetUid()
		if job == nil || uid != p.GetMetadata().GetLabels()[api.LabelControllerUID] {
			continue
		}
		jc, ok := counts[uid]
		if !ok {
			jc = w.countPods(job)
			counts[uid] = jc
		}
		if !jc.fits(job, p) {
			continue
		}
		w.insert(tablePods, keep(w, p))
		jc.add(p)
		created++
	}
	w.podsCreated(created)
	return nil
}

// jobCounts is what decides whether one more pod fits a Job.
type jobCounts struct {
	indexed       bool
	active        int
	succeeded     int
	activeIndexes map[string]bool
	doneIndexes   map[string]bool
	// failedIndexes are the indexes the Job's status records as failed for
	// good (backoffLimitPerIndex): they get no new pod.
	failedIndexes map[int]bool
}

func (w *writer) countPods(job *api.Job) *jobCounts {
	jc := &jobCounts{
		indexed:       job.GetSpec().GetCompletionMode() == api.CompletionModeIndexed,
		activeIndexes: map[string]bool{},
		doneIndexes:   map[string]bool{},
		failedIndexes: map[int]bool{},
	}
	// A malformed list from a stale status blocks nothing; the controller
	// writes it whole each time.
	failed, _ := api.ParseCompletedIndexes(job.GetStatus().GetFailedIndexes())
	for _, i := range failed {
		jc.failedIndexes[i] = true
	}
	// A big Job holds thousands of pods, and every CreatePods command
	// counts them on every server: its Succeeded pods in brief are
	// counted by their sum, the others walked without collecting them.
	key := api.KeyOf(job.GetMetadata())
	if s := sumOf(w.txn, key); s != nil {
		if jc.indexed {
			it := s.labels.Root().Iterator()
			for k, _, ok := it.Next(); ok; k, _, ok = it.Next() {
				jc.addSucceeded(string(k))
			}
		} else {
			jc.succeeded += s.count
		}
	}
	for p := range eachWholeJobPod(w.txn, key) {
		jc.add(p)
	}
	return jc
}

// addSucceeded counts one Succeeded pod of the Job, of completion index
// label index.
func (jc *jobCounts) addSucceeded(index string) {
	if !jc.indexed {
		jc.succeeded++
		return
	}
	if !jc.doneIndexes[index] {
		jc.doneIndexes[index] = true
		jc.succeeded++
	}
}

// add counts one pod of the Job.
func (jc *jobCounts) add(p *api.Pod) {
	switch p.GetStatus().GetPhase() {
	case api.PodSucceeded:
		jc.addSucceeded(p.GetMetadata().GetLabels()[api.LabelCompletionIndex])
	case api.PodFailed:
	default:
		jc.active++
		if jc.indexed {
			jc.activeIndexes[p.GetMetadata().GetLabels()[api.LabelCompletionIndex]] = true
		}
	}
}

// fits reports whether starting p keeps the Job within parallelism, its
// remaining completions and, for Indexed Jobs, one pod per open index (not
// succeeded, not failed for good).
func (jc *jobCounts) fits(job *api.Job, p *api.Pod) bool {
	if jobEnding(job) || job.GetSpec().GetSuspend() {
		return false
	}
	index := p.GetMetadata().GetLabels()[api.LabelCompletionIndex]
	if jc.indexed && jc.activeIndexes[index] {
		return false // that index already runs
	}
	wanted := int(api.JobParallelism(job)) // unset means 1, as the controller reads it
	if completions := job.GetSpec().Completions; completions != nil {
		wanted = min(wanted, int(*completions)-jc.succeeded)
		if jc.indexed {
			i, err := strconv.Atoi(index)
			if err != nil || i < 0 || i >= int(*completions) || jc.doneIndexes[index] || jc.failedIndexes[i] {
				return false
			}
		}
	} else if jc.succeeded > 0 {
		return false // work queue: after a success nothing new starts
	}
	return jc.active < wanted
}

// applyUpdatePodStatus records what nodes (or the leader, for lost nodes)
// observed. A finished pod never changes again, and an update from a node
// the pod is not bound to is ignored.
func (w *writer) applyUpdatePodStatus(c *api.UpdatePodStatus) error {
	for _, u := range c.GetUpdates() {
		if w.frozen(tablePods, u.GetName()) {
			continue // finished: no need to decode it to know
		}
		p := w.pod(u.GetName())
		if p == nil || api.IsPodTerminal(p) || u.GetStatus() == nil {
			continue
		}
		if u.GetUid() != "" && u.GetUid() != p.GetMetadata().GetUid() {
			continue
		}
		if u.GetNode() != "" && u.GetNode() != p.GetSpec().GetNodeName() {
			continue
		}
		st := keep(w, u.GetStatus())
		// The reason a stop gave (DeadlineExceeded, JobSuspended) stays
		// unless the node names a more specific one.
		if st.GetReason() == "" {
			st.Reason = p.GetStatus().GetReason()
			st.Message = p.GetStatus().GetMessage()
		}
		if len(st.GetConditions()) == 0 {
			st.Conditions = p.GetStatus().GetConditions()
		}
		if st.StartTime == nil {
			st.StartTime = p.GetStatus().GetStartTime()
		}
		next := withStatus(p, st)
		w.insert(tablePods, next)
		w.keepTails(next, u)
		w.podStarted(p, next)
		if api.IsPodTerminal(next) {
			w.podFinished(next)
		}
	}
	return nil
}

// applyStopPods marks pods for stopping. Their nodes stop them and report
// the end; a pod on no node ends at once.
func (w *writer) applyStopPods(c *api.StopPods) error {
	for _, name := range c.GetNames() {
		p := w.pod(name)
		if p == nil || api.IsPodTerminal(p) {
			continue
		}
		next := clone(p)
		if next.Metadata.DeletionTimestamp == nil {
			next.Metadata.DeletionTimestamp = c.GetTime()
		}
		if next.Status == nil {
			next.Status = &api.PodStatus{}
		}
		if next.Status.Reason == "" {
			next.Status.Reason = c.GetReason()
			next.Status.Message = c.GetMessage()
		}
		if next.GetSpec().GetNodeName() == "" {
			next.Status.Phase = api.PodFailed
		}
		w.insert(tablePods, next)
		if api.IsPodTerminal(next) {
			w.podFinished(next)
		}
	}
	return nil
}

func (w *writer) applyDeletePods(c *api.DeletePods) error {
	for _, name := range c.GetNames() {
		if p := w.pod(name); p != nil {
			w.removeEvents("Pod", p.GetMetadata().GetNamespace(), name)
			w.removeTails(name)
			w.remove(tablePods, p)
		}
	}
	return nil
}

// applyBindPods places pending pods. A pod keeps the first node it got. A
// binding to an unknown node is refused; the others still apply.
func (w *writer) applyBindPods(c *api.BindPods) error {
	var errs []error
	for _, b := range c.GetBindings() {
		p := w.pod(b.GetPod())
		if p == nil || api.IsPodTerminal(p) || p.GetSpec().GetNodeName() != "" || p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		if first[*api.Node](w.txn, tableNodes, "id", b.GetNode()) == nil {
			errs = append(errs, fmt.Errorf("bind pod %s: node %q: %w", b.GetPod(), b.GetNode(), ErrNotFound))
			continue
		}
		next := clone(p)
		if next.Spec == nil {
			next.Spec = &api.PodSpec{}
		}
		next.Spec.NodeName = b.GetNode()
		if next.Status == nil {
			next.Status = &api.PodStatus{Phase: api.PodPending}
		}
		next.Status.Conditions = setPodCondition(next.Status.Conditions, &api.PodCondition{
			Type: api.PodScheduled, Status: api.ConditionTrue, LastTransitionTime: c.GetTime(),
		})
		w.insert(tablePods, next)
	}
	return errors.Join(errs...)
}

func setPodCondition(conds []*api.PodCondition, c *api.PodCondition) []*api.PodCondition {
	out := make([]*api.PodCondition, 0, len(conds)+1)
	for _, old := range conds {
		if old.GetType() != c.GetType() {
			out = append(out, old)
		}
	}
	return append(out, c)
}
