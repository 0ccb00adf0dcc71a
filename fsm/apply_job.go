package fsm

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

func (w *writer) applyUpsertJob(c *api.UpsertJob) error {
	job := clone(c.GetJob())
	if unnamed(job) {
		return fmt.Errorf("upsert job: %w", errNoName)
	}
	name := job.GetMetadata().GetName()
	old := w.job(job.GetMetadata().GetNamespace(), name)
	if old != nil {
		if c.GetCreateOnly() {
			return fmt.Errorf("job %q: %w", name, ErrAlreadyExists)
		}
		// An update keeps the stored identity and status: the proposer only
		// decides the spec.
		job.Metadata.Uid = old.GetMetadata().GetUid()
		job.Metadata.CreationTimestamp = old.GetMetadata().GetCreationTimestamp()
		job.Metadata.Generation = old.GetMetadata().GetGeneration()
		if !proto.Equal(job.GetSpec(), old.GetSpec()) {
			job.Metadata.Generation++ // as Kubernetes: only a spec change counts
		}
		job.Status = old.GetStatus()
	} else {
		job.Metadata.Generation = 1
	}
	w.insert(tableJobs, job)
	return nil
}

func (w *writer) applyDeleteJob(c *api.DeleteJob) error {
	job := w.job(c.GetNamespace(), c.GetName())
	if job == nil {
		return fmt.Errorf("job %q: %w", c.GetName(), ErrNotFound)
	}
	if c.GetUid() != "" && c.GetUid() != job.GetMetadata().GetUid() {
		return fmt.Errorf("job %q: %w", c.GetName(), ErrConflict)
	}
	w.deleteJob(job)
	return nil
}

// deleteJob removes a Job, its pods and their events. Agents stop the
// processes of pods that vanish from their set.
func (w *writer) deleteJob(job *api.Job) {
	ns, name := job.GetMetadata().GetNamespace(), job.GetMetadata().GetName()
	dropSum(w.txn, api.Key(ns, name)) // first: its pods go next
	for _, o := range storedPodsOfJob(w.txn, api.Key(ns, name)) {
		pod := storedName(o)
		w.removeEvents("Pod", ns, pod)
		w.removeTails(pod)
		if err := w.txn.Delete(tablePods, o); err != nil {
			panic(err)
		}
	}
	w.removeEvents("Job", ns, name)
	w.remove(tableJobs, job)
}

func (w *writer) removeEvents(kind, namespace, name string) {
	n, err := w.txn.DeleteAll(tableEvents, "involved", involvedKey(kind, namespace, name))
	w.events -= n
	if err != nil {
		panic(err)
	}
}

func (w *writer) applyUpdateJobStatus(c *api.UpdateJobStatus) error {
	job := w.job(c.GetNamespace(), c.GetName())
	if job == nil {
		return fmt.Errorf("job %q: %w", c.GetName(), ErrNotFound)
	}
	if c.GetUid() != job.GetMetadata().GetUid() {
		return fmt.Errorf("job %q: %w", c.GetName(), ErrConflict)
	}
	if jobFinished(job) {
		return fmt.Errorf("job %q: %w", c.GetName(), ErrFinished)
	}
	next := clone(job)
	next.Status = keep(w, c.GetStatus())
	if next.Status == nil {
		next.Status = &api.JobStatus{}
	}
	// A status decided from an older view may not lower counts that pods
	// already pushed higher; the controller's next pass corrects the rest.
	next.Status.Succeeded = max(next.Status.GetSucceeded(), job.GetStatus().GetSucceeded())
	next.Status.Failed = max(next.Status.GetFailed(), job.GetStatus().GetFailed())
	// Nor may it take back a decision to end the Job: pods would start again.
	for _, typ := range []string{api.JobFailureTarget, api.JobSuccessCriteriaMet} {
		if api.JobConditionTrue(job.GetStatus(), typ) && !api.JobConditionTrue(next.Status, typ) {
			next.Status.Conditions = append(slices.DeleteFunc(next.Status.Conditions, func(c *api.JobCondition) bool {
				return c.GetType() == typ
			}), clone(api.FindJobCondition(job.GetStatus(), typ)))
		}
	}
	w.insert(tableJobs, next)
	if jobFinished(next) {
		w.jobFinished(next)
		w.jobFinishedNotification(next)
	}
	return nil
}
